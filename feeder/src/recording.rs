//! Record and replay the feeder's input: every source event (frames with the time they were
//! read off the socket, connects, drops) and every refetch result, appended to a compact
//! binary file that a later run replays into the engine at the recorded pace or as fast as
//! possible. Also the notification index log a benchmark joins on ([`FrameLog`]).
//!
//! ## The recording file (little-endian)
//!
//! A 16-byte file header, `b"PHFRAMES"`, `version: u32` (= [`VERSION`]), `reserved: u32` (0),
//! then records, each a 16-byte record header and its payload:
//!
//! | offset | field | type | meaning |
//! |---:|---|---|---|
//! | 0 | `t_recv_ns` | u64 | CLOCK_MONOTONIC ns when the event happened (a frame: when read) |
//! | 8 | `len` | u32 | payload bytes |
//! | 12 | `endpoint` | u8 | index of the endpoint in `[feeder].endpoints` |
//! | 13 | `kind` | u8 | [`KIND_FRAME`], [`KIND_CONNECTED`], [`KIND_DISCONNECTED`] or [`KIND_REFETCH`] |
//! | 14 | `reserved` | u16 | 0 |
//!
//! Payloads: a frame's text as received (UTF-8); nothing for a connect; the reason for a
//! drop (UTF-8); a refetch: for each watched account in order, `slot: u64`, `present: u8`,
//! `len: u32` and `len` bytes of account data. A file is appendable: recording to an existing
//! file checks its header and adds records at the end. A record cut short (the recorder was
//! killed mid-write) ends the replay with an error that says how many bytes were ignored;
//! every record before it is replayed.

use crate::rpc::Fetched;
use crate::source::{FeedEvent, FeedSource};
use phantom_ringbuf::clock::monotonic_ns;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tokio::sync::mpsc;

/// File magic.
pub const MAGIC: &[u8; 8] = b"PHFRAMES";
/// Format version.
pub const VERSION: u32 = 1;
/// Bytes of the file header and of each record header.
pub const HEADER_BYTES: usize = 16;
/// A text frame.
pub const KIND_FRAME: u8 = 0;
/// A (re)connect.
pub const KIND_CONNECTED: u8 = 1;
/// A drop; the payload is the reason.
pub const KIND_DISCONNECTED: u8 = 2;
/// A refetch result (`getMultipleAccounts`).
pub const KIND_REFETCH: u8 = 3;
/// Largest payload accepted when reading (a corrupt length must not allocate gigabytes).
pub const MAX_PAYLOAD: u32 = 64 << 20;

/// Errors of recording files.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// I/O on the file.
    #[error("recording {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// Not a recording, or another version.
    #[error("recording {path}: {what}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// When it happened (recording time).
    pub t_recv_ns: u64,
    /// Endpoint index.
    pub endpoint: u8,
    /// One of the `KIND_*` constants.
    pub kind: u8,
    /// Payload.
    pub payload: Vec<u8>,
}

fn encode_record(t: u64, endpoint: u8, kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(HEADER_BYTES + payload.len());
    r.extend_from_slice(&t.to_le_bytes());
    r.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    r.extend_from_slice(&[endpoint, kind, 0, 0]);
    r.extend_from_slice(payload);
    r
}

/// The payload of a refetch record.
pub fn encode_refetch(fetched: &[Fetched]) -> Vec<u8> {
    let mut out = Vec::new();
    for (slot, data) in fetched {
        out.extend_from_slice(&slot.to_le_bytes());
        match data {
            Some(d) => {
                out.push(1);
                out.extend_from_slice(&(d.len() as u32).to_le_bytes());
                out.extend_from_slice(d);
            }
            None => {
                out.push(0);
                out.extend_from_slice(&0u32.to_le_bytes());
            }
        }
    }
    out
}

/// Parse a refetch payload; `None` if it is malformed.
pub fn decode_refetch(mut p: &[u8]) -> Option<Vec<Fetched>> {
    let mut out = Vec::new();
    while !p.is_empty() {
        if p.len() < 13 {
            return None;
        }
        let slot = u64::from_le_bytes(p[0..8].try_into().ok()?);
        let present = p[8];
        let len = u32::from_le_bytes(p[9..13].try_into().ok()?) as usize;
        p = &p[13..];
        if p.len() < len {
            return None;
        }
        out.push((slot, (present == 1).then(|| p[..len].to_vec())));
        p = &p[len..];
    }
    Some(out)
}

/// Appends records from a background thread: the engine only moves bytes into a channel.
pub struct Recorder {
    tx: Option<std_mpsc::Sender<Vec<u8>>>,
    writer: Option<std::thread::JoinHandle<std::io::Result<u64>>>,
    path: PathBuf,
}

impl Recorder {
    /// Open `path` for appending (created with a header if new or empty; an existing file's
    /// header must be this format and version).
    pub fn open(path: &Path) -> Result<Self, RecordingError> {
        let io = |source| RecordingError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            let mut h = Vec::with_capacity(HEADER_BYTES);
            h.extend_from_slice(MAGIC);
            h.extend_from_slice(&VERSION.to_le_bytes());
            h.extend_from_slice(&0u32.to_le_bytes());
            file.write_all(&h).map_err(io)?;
        } else {
            check_header(&mut std::fs::File::open(path).map_err(io)?, path)?;
        }
        let (tx, rx) = std_mpsc::channel::<Vec<u8>>();
        let writer = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
                let mut n = 0u64;
                while let Ok(rec) = rx.recv() {
                    w.write_all(&rec)?;
                    n += 1;
                    while let Ok(more) = rx.try_recv() {
                        w.write_all(&more)?;
                        n += 1;
                    }
                    w.flush()?;
                }
                w.flush()?;
                Ok(n)
            })
            .map_err(io)?;
        Ok(Recorder {
            tx: Some(tx),
            writer: Some(writer),
            path: path.to_path_buf(),
        })
    }

    fn send(&self, rec: Vec<u8>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(rec);
        }
    }

    /// Record a source event.
    pub fn event(&self, ev: &FeedEvent) {
        let rec = match ev {
            FeedEvent::Frame {
                endpoint,
                t_recv_ns,
                text,
            } => encode_record(*t_recv_ns, *endpoint, KIND_FRAME, text.as_bytes()),
            FeedEvent::Connected { endpoint } => {
                encode_record(monotonic_ns(), *endpoint, KIND_CONNECTED, &[])
            }
            FeedEvent::Disconnected { endpoint, why, .. } => {
                encode_record(monotonic_ns(), *endpoint, KIND_DISCONNECTED, why.as_bytes())
            }
            FeedEvent::Refetched { endpoint, fetched } => encode_record(
                monotonic_ns(),
                *endpoint,
                KIND_REFETCH,
                &encode_refetch(fetched),
            ),
        };
        self.send(rec);
    }

    /// Flush and close; returns the records written.
    pub fn finish(mut self) -> Result<u64, RecordingError> {
        self.close()
    }

    fn close(&mut self) -> Result<u64, RecordingError> {
        self.tx.take();
        match self.writer.take().map(|h| h.join()) {
            Some(Ok(Ok(n))) => Ok(n),
            Some(Ok(Err(source))) => Err(RecordingError::Io {
                path: self.path.clone(),
                source,
            }),
            Some(Err(_)) => Err(RecordingError::Format {
                path: self.path.clone(),
                what: "the recorder thread panicked".into(),
            }),
            None => Ok(0),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!("{e}");
        }
    }
}

fn check_header(f: &mut impl Read, path: &Path) -> Result<(), RecordingError> {
    let mut h = [0u8; HEADER_BYTES];
    f.read_exact(&mut h).map_err(|_| RecordingError::Format {
        path: path.to_path_buf(),
        what: "shorter than the 16-byte file header: not a recording".into(),
    })?;
    if &h[0..8] != MAGIC {
        return Err(RecordingError::Format {
            path: path.to_path_buf(),
            what: "not a phantom-pipeline recording (magic is not PHFRAMES)".into(),
        });
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if version != VERSION {
        return Err(RecordingError::Format {
            path: path.to_path_buf(),
            what: format!("format version {version}, this build reads version {VERSION}"),
        });
    }
    Ok(())
}

/// Reads a recording record by record.
pub struct Reader {
    r: std::io::BufReader<std::fs::File>,
    path: PathBuf,
    offset: u64,
}

impl Reader {
    /// Open and check the header.
    pub fn open(path: &Path) -> Result<Self, RecordingError> {
        let f = std::fs::File::open(path).map_err(|source| RecordingError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut r = std::io::BufReader::with_capacity(1 << 20, f);
        check_header(&mut r, path)?;
        Ok(Reader {
            r,
            path: path.to_path_buf(),
            offset: HEADER_BYTES as u64,
        })
    }

    /// The next record; `Ok(None)` at a clean end; an error for a cut-short or corrupt record.
    pub fn next_record(&mut self) -> Result<Option<Record>, RecordingError> {
        let mut h = [0u8; HEADER_BYTES];
        let mut got = 0;
        while got < HEADER_BYTES {
            match self.r.read(&mut h[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(RecordingError::Io {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        }
        if got == 0 {
            return Ok(None);
        }
        let cut = |what: String| RecordingError::Format {
            path: self.path.clone(),
            what,
        };
        if got < HEADER_BYTES {
            return Err(cut(format!(
                "record at byte {} is cut short ({got} of 16 header bytes); {got} bytes ignored",
                self.offset
            )));
        }
        let t_recv_ns = u64::from_le_bytes(h[0..8].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
        let (endpoint, kind) = (h[12], h[13]);
        if len > MAX_PAYLOAD || kind > KIND_REFETCH {
            return Err(cut(format!(
                "record at byte {} is corrupt (kind {kind}, length {len})",
                self.offset
            )));
        }
        let mut payload = vec![0u8; len as usize];
        if let Err(e) = self.r.read_exact(&mut payload) {
            return Err(cut(format!(
                "record at byte {} is cut short (payload of {len} bytes: {e}); the rest of \
                 the file is ignored",
                self.offset
            )));
        }
        self.offset += (HEADER_BYTES + len as usize) as u64;
        Ok(Some(Record {
            t_recv_ns,
            endpoint,
            kind,
            payload,
        }))
    }
}

/// Replay pace.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the engine takes them.
    Max,
    /// The recorded pace times this factor (1.0: as recorded).
    Factor(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(f) if f > 0.0 && f.is_finite() => Ok(Speed::Factor(f)),
            _ => Err(format!(
                "replay speed {s:?}: expected \"max\" or a factor > 0 (1 = as recorded)"
            )),
        }
    }
}

/// A [`FeedSource`] that replays a recording. Frames are stamped with the time they are
/// handed to the engine (so latency figures measure this run); refetches are replayed as
/// recorded, so the table ends exactly as it did in the recording. A bad file ends the
/// replay with an error line; everything before the bad record is replayed.
pub struct ReplaySource {
    /// The recording.
    pub path: PathBuf,
    /// Pace.
    pub speed: Speed,
    /// Endpoints in the current config: records of other endpoints are mapped onto the
    /// last one (a recording made with more endpoints still replays).
    pub endpoints: u8,
}

impl FeedSource for ReplaySource {
    async fn run(self, events: mpsc::Sender<FeedEvent>) {
        let mut reader = match Reader::open(&self.path) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("replay: {e}");
                return;
            }
        };
        let start = monotonic_ns();
        let mut first: Option<u64> = None;
        let mut n = 0u64;
        loop {
            let rec = match reader.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!("replay: {e}");
                    break;
                }
            };
            if let Speed::Factor(f) = self.speed {
                let t0 = *first.get_or_insert(rec.t_recv_ns);
                let due = start + (rec.t_recv_ns.saturating_sub(t0) as f64 / f) as u64;
                let now = monotonic_ns();
                if due > now {
                    tokio::time::sleep(Duration::from_nanos(due - now)).await;
                }
            }
            let endpoint = rec.endpoint.min(self.endpoints.saturating_sub(1));
            let ev = match rec.kind {
                KIND_FRAME => match String::from_utf8(rec.payload) {
                    Ok(text) => FeedEvent::Frame {
                        endpoint,
                        t_recv_ns: monotonic_ns(),
                        text,
                    },
                    Err(_) => {
                        tracing::warn!("replay: a frame is not UTF-8; skipped");
                        continue;
                    }
                },
                KIND_CONNECTED => FeedEvent::Connected { endpoint },
                KIND_DISCONNECTED => FeedEvent::Disconnected {
                    endpoint,
                    why: String::from_utf8_lossy(&rec.payload).into_owned(),
                    retry_in: Duration::ZERO,
                },
                _ => match decode_refetch(&rec.payload) {
                    Some(fetched) => FeedEvent::Refetched { endpoint, fetched },
                    None => {
                        tracing::warn!("replay: a refetch record is malformed; skipped");
                        continue;
                    }
                },
            };
            if events.send(ev).await.is_err() {
                return;
            }
            n += 1;
        }
        tracing::info!(records = n, "replay finished");
    }
}

/// The notification index log: one 16-byte record per notification frame the engine
/// parsed (`accountNotification` or `slotNotification`), so a benchmark can join a tick's
/// `t_recv_ns` to the frame's position on its connection and from there to the moment the
/// server sent it: `t_recv_ns: u64`, `frame_idx: u32` (0-based, per connection),
/// `endpoint: u8`, `connection: u8` (0-based count of this endpoint's connects), `kind: u8`
/// (0 account, 1 slot), `reserved: u8`.
pub struct FrameLog {
    tx: std_mpsc::Sender<[u8; 16]>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl FrameLog {
    /// Create (truncate) `path`.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::create(path)?;
        let (tx, rx) = std_mpsc::channel::<[u8; 16]>();
        let writer = std::thread::Builder::new()
            .name("frame-log".into())
            .spawn(move || {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
                while let Ok(r) = rx.recv() {
                    let mut ok = w.write_all(&r).is_ok();
                    while let (true, Ok(more)) = (ok, rx.try_recv()) {
                        ok = w.write_all(&more).is_ok();
                    }
                    if !ok || w.flush().is_err() {
                        tracing::error!("frame log: write failed; logging stops");
                        return;
                    }
                }
            })?;
        Ok(FrameLog {
            tx,
            writer: Some(writer),
        })
    }

    /// Log one notification frame.
    pub fn log(&self, t_recv_ns: u64, frame_idx: u32, endpoint: u8, connection: u8, slot: bool) {
        let mut r = [0u8; 16];
        r[0..8].copy_from_slice(&t_recv_ns.to_le_bytes());
        r[8..12].copy_from_slice(&frame_idx.to_le_bytes());
        r[12] = endpoint;
        r[13] = connection;
        r[14] = u8::from(slot);
        let _ = self.tx.send(r);
    }
}

impl Drop for FrameLog {
    fn drop(&mut self) {
        let (dead_tx, _) = std_mpsc::channel();
        drop(std::mem::replace(&mut self.tx, dead_tx));
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("phantom-rec-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&d);
        d
    }

    fn events() -> Vec<FeedEvent> {
        vec![
            FeedEvent::Connected { endpoint: 0 },
            FeedEvent::Refetched {
                endpoint: 0,
                fetched: vec![(7, Some(vec![1, 2, 3])), (8, None)],
            },
            FeedEvent::Frame {
                endpoint: 1,
                t_recv_ns: 123,
                text: "{\"x\":1}".into(),
            },
            FeedEvent::Disconnected {
                endpoint: 1,
                why: "read timeout".into(),
                retry_in: Duration::ZERO,
            },
        ]
    }

    #[test]
    fn records_round_trip_and_files_append() {
        let p = tmp("rt");
        for _ in 0..2 {
            let r = Recorder::open(&p).expect("open");
            for ev in events() {
                r.event(&ev);
            }
            assert_eq!(r.finish().expect("finish"), 4);
        }
        let mut rd = Reader::open(&p).expect("reader");
        let mut got = Vec::new();
        while let Some(r) = rd.next_record().expect("record") {
            got.push(r);
        }
        assert_eq!(got.len(), 8, "two sessions appended");
        assert_eq!(got[0].kind, KIND_CONNECTED);
        assert_eq!(
            decode_refetch(&got[1].payload),
            Some(vec![(7, Some(vec![1, 2, 3])), (8, None)])
        );
        assert_eq!(
            (got[2].t_recv_ns, got[2].endpoint, &got[2].payload[..]),
            (123, 1, &b"{\"x\":1}"[..])
        );
        assert_eq!(got[3].payload, b"read timeout");
        let strip = |r: &[Record]| -> Vec<(u8, u8, Vec<u8>)> {
            r.iter()
                .map(|r| (r.endpoint, r.kind, r.payload.clone()))
                .collect()
        };
        assert_eq!(strip(&got[4..]), strip(&got[..4]));
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn a_cut_short_record_ends_the_read_with_an_error_after_the_whole_ones() {
        let p = tmp("cut");
        let r = Recorder::open(&p).expect("open");
        for ev in events() {
            r.event(&ev);
        }
        r.finish().expect("finish");
        let len = std::fs::metadata(&p).expect("meta").len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .expect("open");
        f.set_len(len - 3).expect("truncate");
        let mut rd = Reader::open(&p).expect("reader");
        for _ in 0..3 {
            assert!(rd.next_record().expect("whole record").is_some());
        }
        let e = rd.next_record().expect_err("cut short").to_string();
        assert!(e.contains("cut short"), "{e}");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn foreign_and_other_version_files_are_refused_by_name() {
        let p = tmp("foreign");
        std::fs::write(&p, b"hello, this is not a recording").expect("write");
        let e = Reader::open(&p).err().expect("refused").to_string();
        assert!(e.contains("not a phantom-pipeline recording"), "{e}");
        assert!(
            Recorder::open(&p).is_err(),
            "no appending to a foreign file"
        );
        let mut v2 = MAGIC.to_vec();
        v2.extend_from_slice(&2u32.to_le_bytes());
        v2.extend_from_slice(&[0; 4]);
        std::fs::write(&p, v2).expect("write");
        let e = Reader::open(&p).err().expect("refused").to_string();
        assert!(e.contains("version 2"), "{e}");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn malformed_refetch_payloads_are_refused() {
        assert_eq!(decode_refetch(&[1, 2, 3]), None);
        let mut p = encode_refetch(&[(1, Some(vec![9; 10]))]);
        p.pop();
        assert_eq!(decode_refetch(&p), None);
        assert_eq!(decode_refetch(&[]), Some(vec![]));
    }

    #[test]
    fn speeds_parse_with_clear_errors() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("2".parse::<Speed>(), Ok(Speed::Factor(2.0)));
        assert!("0".parse::<Speed>().unwrap_err().contains("expected"));
        assert!("fast".parse::<Speed>().is_err());
    }
}
