//! `websocket_bytes`: a WebSocket carrying a byte stream with arbitrary message boundaries.

use std::time::Duration;

use bytes::Bytes;
use corekube_stream::tunnel::{websocket_bytes, MAX_MESSAGE};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

async fn pair() -> (
    WebSocketStream<DuplexStream>,
    impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let server = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
    let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
    (client, websocket_bytes(server))
}

async fn next(client: &mut WebSocketStream<DuplexStream>) -> Message {
    tokio::time::timeout(Duration::from_secs(10), client.next())
        .await
        .expect("in time")
        .expect("open")
        .expect("valid")
}

#[tokio::test]
async fn bytes_split_over_messages_arrive_in_order() {
    let (mut client, mut bytes) = pair().await;
    // kubectl split one SYN_STREAM over eight messages like these.
    let pieces: [&[u8]; 8] = [
        b"\x80\x03",
        b"\x00\x01",
        b"\x00\x00\x00\x3d",
        b"\x00\x00\x00\x01",
        b"\x00\x00\x00\x00",
        b"\x00",
        b"\x00",
        b"\x78\xf9",
    ];
    for piece in pieces {
        client
            .send(Message::Binary(Bytes::copy_from_slice(piece)))
            .await
            .unwrap();
    }
    let expected: Vec<u8> = pieces.concat();
    let mut got = vec![0u8; expected.len()];
    tokio::time::timeout(Duration::from_secs(10), bytes.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn writes_come_out_as_binary_messages_and_pings_are_answered() {
    let (mut client, mut bytes) = pair().await;
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
    bytes.write_all(&data).await.unwrap();
    client
        .send(Message::Ping(Bytes::from_static(b"keepalive")))
        .await
        .unwrap();

    let mut received = Vec::new();
    let mut ponged = false;
    while received.len() < data.len() || !ponged {
        match next(&mut client).await {
            Message::Binary(message) => {
                assert!(
                    !message.is_empty() && message.len() <= MAX_MESSAGE,
                    "{} bytes",
                    message.len()
                );
                received.extend_from_slice(&message);
            }
            Message::Pong(payload) => {
                assert_eq!(&payload[..], b"keepalive");
                ponged = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received, data);
}

#[tokio::test]
async fn client_close_is_eof_and_consumer_shutdown_closes_normally() {
    let (mut client, mut bytes) = pair().await;
    client
        .send(Message::Binary(Bytes::from_static(b"last words")))
        .await
        .unwrap();
    client.close(None).await.unwrap();
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), bytes.read_to_end(&mut all))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(all, b"last words");

    let (mut client, mut bytes) = pair().await;
    bytes.write_all(b"bye").await.unwrap();
    bytes.shutdown().await.unwrap();
    assert_eq!(
        next(&mut client).await,
        Message::Binary(Bytes::from_static(b"bye"))
    );
    match next(&mut client).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected a close, got {other:?}"),
    }
    // The client answers the close; the consumer then reads EOF.
    while let Some(Ok(_)) = client.next().await {}
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), bytes.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
}
