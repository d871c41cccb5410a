//! `GET /containerLogs/{namespace}/{pod}/{container}`: a container's log read from the file
//! the runtime writes in the CRI log format, one record per line:
//! `2016-10-06T00:17:09.669794202Z stdout F the line` (tag `P` for a piece of a longer line
//! whose rest follows). Records are turned back into the bytes the container wrote, filtered
//! and cut as the query asks (upstream's kuberuntime log reader), and followed as the file
//! grows, across a rotation, until the container ends.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use tokio::sync::mpsc;

/// How often a followed log checks for new bytes.
const FOLLOW_POLL: Duration = Duration::from_millis(100);
/// How often a followed log asks the runtime whether the container still runs.
const ALIVE_CHECK: Duration = Duration::from_secs(1);
/// Bytes gathered before they are handed to the response (fewer, larger body frames).
const CHUNK: usize = 32 * 1024;
/// The read size when scanning a file backwards for `tailLines`.
const TAIL_BLOCK: u64 = 64 * 1024;

/// What the query asks for (upstream's PodLogOptions as the kubelet receives them).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    /// Records older than this are left out.
    pub since: Option<jiff::Timestamp>,
    pub tail_lines: Option<u64>,
    pub limit_bytes: Option<u64>,
}

impl LogOptions {
    /// Reads `follow`, `previous`, `timestamps`, `sinceSeconds`, `sinceTime`, `tailLines` and
    /// `limitBytes` (the API server has already refused impossible combinations).
    pub fn from_query(query: &str) -> Result<LogOptions, String> {
        let mut o = LogOptions::default();
        let truthy = |v: &str| matches!(v, "true" | "1" | "True" | "TRUE");
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let number = |what: &str| v.parse::<i64>().map_err(|_| format!("invalid {what} {v:?}"));
            match k.as_ref() {
                "follow" => o.follow = truthy(&v),
                "previous" => o.previous = truthy(&v),
                "timestamps" => o.timestamps = truthy(&v),
                "tailLines" => o.tail_lines = Some(number("tailLines")?.max(0) as u64),
                "limitBytes" => o.limit_bytes = Some(number("limitBytes")?.max(1) as u64),
                "sinceSeconds" => {
                    let secs = number("sinceSeconds")?.max(0);
                    o.since = Some(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(secs));
                }
                "sinceTime" => o.since = Some(v.parse().map_err(|_| format!("invalid sinceTime {v:?}"))?),
                _ => {}
            }
        }
        Ok(o)
    }
}

/// One record of a CRI log file.
#[derive(Debug, PartialEq)]
pub struct Record<'a> {
    pub timestamp: &'a str,
    /// A piece of a line whose rest is in the next record (tag `P`).
    pub partial: bool,
    pub content: &'a [u8],
}

/// Parses one line of a CRI log file (without its newline); None for a malformed line.
pub fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let mut fields = line.splitn(4, |b| *b == b' ');
    let timestamp = std::str::from_utf8(fields.next()?).ok()?;
    let _stream = fields.next()?;
    let tags = fields.next()?;
    // Tags are `:`-separated; the first says full or partial.
    let partial = tags.split(|b| *b == b':').next() == Some(b"P");
    Some(Record { timestamp, partial, content: fields.next().unwrap_or_default() })
}

/// Where the last `lines` lines of the file start: its length when `lines` is 0, 0 when it
/// has fewer. A final newline ends the last line rather than starting an empty one.
pub fn tail_start(file: &mut std::fs::File, lines: u64) -> std::io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    if lines == 0 {
        return Ok(len);
    }
    let mut end = len;
    let mut seen = 0u64;
    let mut skip_final_newline = true;
    let mut block = vec![0u8; TAIL_BLOCK as usize];
    while end > 0 {
        let start = end.saturating_sub(TAIL_BLOCK);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block[..n])?;
        for i in (0..n).rev() {
            if block[i] != b'\n' {
                continue;
            }
            if skip_final_newline && start + i as u64 == len - 1 {
                continue;
            }
            seen += 1;
            if seen == lines {
                return Ok(start + i as u64 + 1);
            }
        }
        skip_final_newline = false;
        end = start;
    }
    Ok(0)
}

/// Turns records into output bytes, honouring `since`, `timestamps` and `limitBytes`.
struct Formatter {
    since: Option<jiff::Timestamp>,
    timestamps: bool,
    /// Bytes still allowed out; None for no limit.
    left: Option<u64>,
    out: BytesMut,
}

impl Formatter {
    /// Adds one file line; false once the byte limit is reached.
    fn push(&mut self, line: &[u8]) -> bool {
        let Some(record) = parse_record(line) else { return true };
        if let Some(since) = self.since {
            if record.timestamp.parse::<jiff::Timestamp>().is_ok_and(|t| t < since) {
                return true;
            }
        }
        let before = self.out.len();
        if self.timestamps {
            self.out.extend_from_slice(record.timestamp.as_bytes());
            self.out.extend_from_slice(b" ");
        }
        self.out.extend_from_slice(record.content);
        if !record.partial {
            self.out.extend_from_slice(b"\n");
        }
        let Some(left) = self.left.as_mut() else { return true };
        let added = (self.out.len() - before) as u64;
        if added >= *left {
            self.out.truncate(before + *left as usize);
            *left = 0;
            return false;
        }
        *left -= added;
        true
    }
}

/// Why a log stream stopped early.
#[derive(Debug)]
enum Stop {
    /// The limit was reached or the client went away: nothing more to do.
    Done,
    Io(std::io::Error),
}

/// Reads `path` from `offset` to its current end, line by line, sending what the formatter
/// makes. Returns the offset after the last complete line read.
async fn drain(file: &mut std::io::BufReader<std::fs::File>, mut offset: u64, f: &mut Formatter, tx: &mpsc::Sender<Bytes>) -> Result<u64, Stop> {
    let mut line = Vec::with_capacity(512);
    loop {
        line.clear();
        let n = std::io::BufRead::read_until(file, b'\n', &mut line).map_err(Stop::Io)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            // A record still being written: read it whole next time.
            file.seek_relative(-(n as i64)).map_err(Stop::Io)?;
            break;
        }
        offset += n as u64;
        line.pop();
        let more = f.push(&line);
        if f.out.len() >= CHUNK || !more {
            tx.send(f.out.split().freeze()).await.map_err(|_| Stop::Done)?;
        }
        if !more {
            return Err(Stop::Done);
        }
    }
    if !f.out.is_empty() {
        tx.send(f.out.split().freeze()).await.map_err(|_| Stop::Done)?;
    }
    Ok(offset)
}

fn inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Streams the log at `path` into `tx` as `opts` asks. When following, `running` is asked
/// every second whether the container still runs; the stream ends once it does not and the
/// file has no more. A rotated file (the path names a new file) is finished, then the new one
/// is read from its start. Ends early when the receiver is dropped (the client went away).
pub async fn stream(path: PathBuf, opts: LogOptions, tx: mpsc::Sender<Bytes>, running: impl Fn() -> BoxFuture<'static, bool>) -> std::io::Result<()> {
    let mut file = std::fs::File::open(&path)?;
    let mut ino = file.metadata()?.ino();
    let mut offset = match opts.tail_lines {
        Some(n) => tail_start(&mut file, n)?,
        None => 0,
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    let mut f = Formatter { since: opts.since, timestamps: opts.timestamps, left: opts.limit_bytes, out: BytesMut::with_capacity(CHUNK * 2) };
    let mut last_alive_check = tokio::time::Instant::now();
    loop {
        match drain(&mut reader, offset, &mut f, &tx).await {
            Ok(o) => offset = o,
            Err(Stop::Done) => return Ok(()),
            Err(Stop::Io(e)) => return Err(e),
        }
        if !opts.follow {
            return Ok(());
        }
        if inode(&path).is_some_and(|now| now != ino) {
            // Rotated: what was left in the old file has just been read; go on in the new one.
            let file = std::fs::File::open(&path)?;
            ino = file.metadata()?.ino();
            reader = std::io::BufReader::with_capacity(64 * 1024, file);
            offset = 0;
            continue;
        }
        if last_alive_check.elapsed() >= ALIVE_CHECK {
            last_alive_check = tokio::time::Instant::now();
            if !running().await {
                // One last read: the container may have written just before it ended.
                if let Err(Stop::Io(e)) = drain(&mut reader, offset, &mut f, &tx).await {
                    return Err(e);
                }
                return Ok(());
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = tx.closed() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn log_file(lines: &[&str]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        f
    }

    async fn read_all(path: PathBuf, opts: LogOptions) -> String {
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(stream(path, opts, tx, || Box::pin(async { false })));
        let mut out = Vec::new();
        while let Some(b) = rx.recv().await {
            out.extend_from_slice(&b);
        }
        task.await.unwrap().unwrap();
        String::from_utf8(out).unwrap()
    }

    const LINES: [&str; 4] = [
        "2024-01-01T00:00:01.000000001Z stdout F one",
        "2024-01-01T00:00:02Z stderr P tw",
        "2024-01-01T00:00:02.5Z stderr F o",
        "2024-01-01T00:00:03Z stdout F three",
    ];

    #[test]
    fn records_parse_with_their_tags() {
        assert_eq!(parse_record(b"2024-01-01T00:00:02Z stderr P tw").unwrap(), Record { timestamp: "2024-01-01T00:00:02Z", partial: true, content: b"tw" });
        assert_eq!(parse_record(b"2024-01-01T00:00:02Z stdout F:x ").unwrap().content, b"");
        assert!(parse_record(b"garbage").is_none());
    }

    #[tokio::test]
    async fn partial_records_join_and_options_apply() {
        let f = log_file(&LINES);
        let path = f.path().to_path_buf();
        assert_eq!(read_all(path.clone(), LogOptions::default()).await, "one\ntwo\nthree\n");
        // tailLines counts records in the file, as upstream's reader does.
        assert_eq!(read_all(path.clone(), LogOptions { tail_lines: Some(1), ..Default::default() }).await, "three\n");
        assert_eq!(read_all(path.clone(), LogOptions { tail_lines: Some(0), ..Default::default() }).await, "");
        assert_eq!(read_all(path.clone(), LogOptions { tail_lines: Some(99), ..Default::default() }).await, "one\ntwo\nthree\n");
        let since = "2024-01-01T00:00:02.2Z".parse().unwrap();
        assert_eq!(read_all(path.clone(), LogOptions { since: Some(since), ..Default::default() }).await, "o\nthree\n");
        assert_eq!(read_all(path.clone(), LogOptions { limit_bytes: Some(6), ..Default::default() }).await, "one\ntw");
        let stamped = read_all(path, LogOptions { timestamps: true, tail_lines: Some(1), ..Default::default() }).await;
        assert_eq!(stamped, "2024-01-01T00:00:03Z three\n");
    }

    #[test]
    fn tail_start_scans_across_blocks() {
        let line = format!("2024-01-01T00:00:01Z stdout F {}", "x".repeat(1000));
        let lines: Vec<&str> = std::iter::repeat_n(line.as_str(), 300).collect();
        let f = log_file(&lines);
        let mut file = std::fs::File::open(f.path()).unwrap();
        let len = file.metadata().unwrap().len();
        let per_line = (line.len() + 1) as u64;
        assert_eq!(tail_start(&mut file, 1).unwrap(), len - per_line);
        assert_eq!(tail_start(&mut file, 200).unwrap(), len - 200 * per_line);
        assert_eq!(tail_start(&mut file, 300).unwrap(), 0);
        assert_eq!(tail_start(&mut file, 301).unwrap(), 0);
    }

    #[tokio::test]
    async fn follow_sees_new_lines_and_a_rotation_then_ends_with_the_container() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, format!("{}\n", LINES[0])).unwrap();
        let alive = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (tx, mut rx) = mpsc::channel(16);
        let flag = alive.clone();
        let running = move || -> BoxFuture<'static, bool> {
            let flag = flag.clone();
            Box::pin(async move { flag.load(std::sync::atomic::Ordering::SeqCst) })
        };
        let task = tokio::spawn(stream(path.clone(), LogOptions { follow: true, ..Default::default() }, tx, running));
        assert_eq!(&rx.recv().await.unwrap()[..], b"one\n");
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        // Half a record first: nothing until its newline arrives.
        write!(f, "2024-01-01T00:00:03Z stdout F thr").unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(rx.try_recv().is_err());
        writeln!(f, "ee").unwrap();
        assert_eq!(&rx.recv().await.unwrap()[..], b"three\n");
        // Rotation: the old file moves aside, a new one takes the name.
        std::fs::rename(&path, dir.path().join("0.log.20240101")).unwrap();
        std::fs::write(&path, "2024-01-01T00:00:04Z stdout F four\n").unwrap();
        assert_eq!(&rx.recv().await.unwrap()[..], b"four\n");
        alive.store(false, std::sync::atomic::Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("the stream ends with the container").unwrap().unwrap();
    }
}
