//! `serve_websocket` end to end: a tokio-tungstenite client on one side, the fake runtime's
//! SPDY server on the other.

mod support;

use std::time::Duration;

use bytes::Bytes;
use corekube_stream::remotecommand::{serve_websocket, Options, WsProtocol, MAX_MESSAGE};
use corekube_stream::spdy::Connection;
use futures::{SinkExt, StreamExt};
use support::{Script, Seen};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const EXIT_3: &str = r#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;

struct Harness {
    client: WebSocketStream<DuplexStream>,
    seen: mpsc::UnboundedReceiver<Seen>,
    served: JoinHandle<std::io::Result<()>>,
    runtime: JoinHandle<()>,
}

async fn start(protocol: WsProtocol, opts: Options, script: Script) -> Harness {
    let (spdy_client, spdy_server) = tokio::io::duplex(64 * 1024);
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let runtime = tokio::spawn(support::run(spdy_server, script, seen_tx));
    let spdy = Connection::client(spdy_client);

    let (ws_client, ws_server) = tokio::io::duplex(64 * 1024);
    let server = WebSocketStream::from_raw_socket(ws_server, Role::Server, None).await;
    let client = WebSocketStream::from_raw_socket(ws_client, Role::Client, None).await;
    let served = tokio::spawn(serve_websocket(server, protocol, spdy, opts));
    Harness {
        client,
        seen,
        served,
        runtime,
    }
}

fn on(channel: u8, data: &[u8]) -> Message {
    let mut message = vec![channel];
    message.extend_from_slice(data);
    Message::Binary(Bytes::from(message))
}

/// Reads the client's messages until `channel` has delivered `len` bytes; the others are
/// returned per channel as well (pongs are counted under 200, a made-up key).
async fn collect(
    client: &mut WebSocketStream<DuplexStream>,
    channel: u8,
    len: usize,
) -> Vec<(u8, Vec<u8>)> {
    let mut got = Vec::new();
    let mut total = 0;
    while total < len {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("message in time")
            .expect("connection open")
            .expect("valid message");
        match message {
            Message::Binary(data) => {
                assert!(data.len() <= MAX_MESSAGE, "message of {} bytes", data.len());
                if data[0] == channel {
                    total += data.len() - 1;
                }
                got.push((data[0], data[1..].to_vec()));
            }
            Message::Pong(data) => got.push((200, data.to_vec())),
            other => panic!("unexpected {other:?}"),
        }
    }
    got
}

fn bytes_on(got: &[(u8, Vec<u8>)], channel: u8) -> Vec<u8> {
    got.iter()
        .filter(|(c, _)| *c == channel)
        .flat_map(|(_, d)| d.clone())
        .collect()
}

/// Reads until the close frame; returns the status text on channel 3 and the close code.
async fn status_and_close(
    client: &mut WebSocketStream<DuplexStream>,
) -> (String, Option<CloseCode>) {
    let mut status = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), client.next())
            .await
            .expect("message in time");
        match message {
            Some(Ok(Message::Binary(data))) if data[0] == 3 => status.extend_from_slice(&data[1..]),
            Some(Ok(Message::Binary(data))) => {
                assert!(data[0] == 1 || data[0] == 2, "channel {}", data[0])
            }
            Some(Ok(Message::Close(frame))) => {
                // Keep reading so tungstenite sends its close answer, as gorilla does.
                while let Some(Ok(_)) = client.next().await {}
                return (String::from_utf8(status).unwrap(), frame.map(|f| f.code));
            }
            Some(Ok(Message::Pong(_))) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn seen_until(seen: &mut mpsc::UnboundedReceiver<Seen>, last: Seen) -> Vec<Seen> {
    let mut all = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .expect("event in time")
    {
        let done = event == last;
        all.push(event);
        if done {
            return all;
        }
    }
    panic!("runtime stopped before {last:?}; saw {all:?}");
}

fn opened_types(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .filter_map(|event| match event {
            Seen::Opened(_, headers) => Some(
                headers
                    .iter()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn v5_interactive_tty_session() {
    let opts = Options {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: true,
    };
    let script = Script {
        stdout_greeting: b"$ ".to_vec(),
        status: Some(r#"{"metadata":{},"status":"Success"}"#.into()),
        ..Default::default()
    };
    let mut h = start(WsProtocol::V5, opts, script).await;

    // What kubectl exec -it sends first: the terminal size, then keystrokes.
    h.client
        .send(on(4, b"{\"Width\":100,\"Height\":30}\n"))
        .await
        .unwrap();
    h.client.send(on(0, b"ls\r")).await.unwrap();
    h.client
        .send(Message::Ping(Bytes::from_static(b"hb")))
        .await
        .unwrap();
    let got = collect(&mut h.client, 1, b"$ ls\r".len()).await;
    assert_eq!(bytes_on(&got, 1), b"$ ls\r");
    assert!(
        got.iter().all(|(c, _)| *c == 1 || *c == 200),
        "only stdout and pongs: {got:?}"
    );

    // The pong may trail the echo: wait for it (client-go's heartbeat needs it).
    if !got.iter().any(|(c, d)| *c == 200 && d == b"hb") {
        let pong = collect(&mut h.client, 200, 2).await;
        assert_eq!(pong.last().unwrap(), &(200, b"hb".to_vec()));
    }

    // v5 stdin half-close: the runtime sees FIN on stdin and ends the command.
    h.client
        .send(Message::Binary(Bytes::from_static(&[255, 0])))
        .await
        .unwrap();
    let (status, code) = status_and_close(&mut h.client).await;
    assert_eq!(status, r#"{"metadata":{},"status":"Success"}"#);
    assert_eq!(code, Some(CloseCode::Normal));
    h.served.await.unwrap().unwrap();

    let seen = seen_until(&mut h.seen, Seen::ConnectionClosed).await;
    // tty: no stderr stream, a resize stream last; client-go's order and lower-case names.
    assert_eq!(
        opened_types(&seen),
        [
            "streamtype=error",
            "streamtype=stdin",
            "streamtype=stdout",
            "streamtype=resize"
        ]
    );
    let ids: Vec<u32> = seen
        .iter()
        .filter_map(|e| {
            if let Seen::Opened(id, _) = e {
                Some(*id)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(ids, [1, 3, 5, 7]);
    assert!(seen.contains(&Seen::Resize(b"{\"Width\":100,\"Height\":30}\n".to_vec())));
    assert!(seen.contains(&Seen::Stdin(b"ls\r".to_vec())));
    assert!(seen.contains(&Seen::StdinClosed));
    assert!(
        seen.contains(&Seen::PingEchoed(2)),
        "runtime's ping echoed: {seen:?}"
    );
    h.runtime.await.unwrap();
}

#[tokio::test]
async fn v4_session_with_stderr_and_exit_code() {
    let opts = Options {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let script = Script {
        stderr_greeting: b"warning: pretend\n".to_vec(),
        status: Some(EXIT_3.into()),
        exit_on: Some(b"exit 3".to_vec()),
        ..Default::default()
    };
    let mut h = start(WsProtocol::V4, opts, script).await;

    h.client.send(on(0, b"echo hi\n")).await.unwrap();
    let got = collect(&mut h.client, 1, b"echo hi\n".len()).await;
    assert_eq!(bytes_on(&got, 1), b"echo hi\n");
    // v4 has no close channel: a 255 message is not a stdin close.
    h.client
        .send(Message::Binary(Bytes::from_static(&[255, 0])))
        .await
        .unwrap();
    h.client.send(on(0, b"exit 3\n")).await.unwrap();

    let (status, code) = status_and_close(&mut h.client).await;
    assert_eq!(status, EXIT_3);
    assert_eq!(code, Some(CloseCode::Normal));
    h.served.await.unwrap().unwrap();

    let seen = seen_until(&mut h.seen, Seen::ConnectionClosed).await;
    assert_eq!(
        opened_types(&seen),
        [
            "streamtype=error",
            "streamtype=stdin",
            "streamtype=stdout",
            "streamtype=stderr"
        ]
    );
    assert!(
        !seen.contains(&Seen::StdinClosed),
        "v4 must not half-close stdin: {seen:?}"
    );
}

#[tokio::test]
async fn stderr_reaches_channel_2_and_large_output_is_split() {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let opts = Options {
        stdin: false,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let script = Script {
        stdout_greeting: big.clone(),
        stderr_greeting: b"oops\n".to_vec(),
        status: None,
        exit_on: None,
    };
    let mut h = start(WsProtocol::V5, opts, script).await;

    let got = collect(&mut h.client, 1, big.len()).await;
    assert_eq!(bytes_on(&got, 1), big);
    let mut stderr = bytes_on(&got, 2);
    if stderr.is_empty() {
        stderr = bytes_on(&collect(&mut h.client, 2, 5).await, 2);
    }
    assert_eq!(stderr, b"oops\n");

    // No stdin stream to end the command: the client leaving ends the session cleanly.
    h.client.close(None).await.unwrap();
    h.served.await.unwrap().unwrap();
    let seen = seen_until(&mut h.seen, Seen::ConnectionClosed).await;
    assert_eq!(
        opened_types(&seen),
        ["streamtype=error", "streamtype=stdout", "streamtype=stderr"]
    );
    assert!(
        seen.contains(&Seen::GoAway),
        "the SPDY session is closed with GOAWAY: {seen:?}"
    );
    h.runtime.await.unwrap();
}

#[tokio::test]
async fn empty_error_stream_means_success() {
    let opts = Options {
        stdin: true,
        stdout: false,
        stderr: false,
        tty: false,
    };
    let script = Script {
        status: None,
        ..Default::default()
    };
    let mut h = start(WsProtocol::V5, opts, script).await;
    h.client.send(on(0, b"data")).await.unwrap();
    h.client
        .send(Message::Binary(Bytes::from_static(&[255, 0])))
        .await
        .unwrap();
    let (status, code) = status_and_close(&mut h.client).await;
    assert_eq!(status, r#"{"metadata":{},"status":"Success"}"#);
    assert_eq!(code, Some(CloseCode::Normal));
    h.served.await.unwrap().unwrap();
}

#[tokio::test]
async fn client_dropping_mid_stream_ends_the_session() {
    let opts = Options {
        stdin: true,
        stdout: true,
        stderr: false,
        tty: false,
    };
    let mut h = start(WsProtocol::V5, opts, Script::default()).await;
    h.client.send(on(0, b"x")).await.unwrap();
    collect(&mut h.client, 1, 1).await;
    drop(h.client);
    tokio::time::timeout(Duration::from_secs(10), h.served)
        .await
        .expect("session ends")
        .unwrap()
        .unwrap();
    let seen = seen_until(&mut h.seen, Seen::ConnectionClosed).await;
    assert!(seen.contains(&Seen::GoAway), "{seen:?}");
    h.runtime.await.unwrap();
}

#[tokio::test]
async fn runtime_refusing_a_stream_is_reported_as_failure_status() {
    // A runtime that resets every stream it is offered.
    let (spdy_client, mut spdy_server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        use corekube_stream::spdy::frame::{rst_status, Frame};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut inbound = bytes::BytesMut::new();
        while spdy_server.read_buf(&mut inbound).await.unwrap_or(0) > 0 {
            while let Some(frame) = Frame::decode(&mut inbound).unwrap() {
                if let Frame::SynStream { stream_id, .. } = frame {
                    let mut out = bytes::BytesMut::new();
                    Frame::RstStream {
                        stream_id,
                        status: rst_status::REFUSED_STREAM,
                    }
                    .encode(&mut out);
                    spdy_server.write_all(&out).await.unwrap();
                }
            }
        }
    });
    let spdy = Connection::client(spdy_client);
    let (ws_client, ws_server) = tokio::io::duplex(64 * 1024);
    let server = WebSocketStream::from_raw_socket(ws_server, Role::Server, None).await;
    let mut client = WebSocketStream::from_raw_socket(ws_client, Role::Client, None).await;
    let served = tokio::spawn(serve_websocket(
        server,
        WsProtocol::V5,
        spdy,
        Options {
            stdout: true,
            ..Default::default()
        },
    ));
    let (status, code) = status_and_close(&mut client).await;
    assert!(
        status.contains(r#""status":"Failure""#) && status.contains("refused"),
        "{status}"
    );
    assert_eq!(code, Some(CloseCode::Normal));
    assert!(served.await.unwrap().is_err());
}
