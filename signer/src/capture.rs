//! The dry-run capture (DESIGN §7): JSON Lines, one object per signed transaction.
//!
//! `{"epoch", "intent_seq", "tick_seq", "route_id", "signature" (base58), "tx" (base64 of the
//! wire bytes), "t_signed_ns"}`, plus the intent's hop times (`t_tick_recv_ns`,
//! `t_tick_pub_ns`, `t_strategy_read_ns`, `t_intent_ns`, `t_intent_read_ns`) so latency can
//! be followed per transaction. In preflight mode each line also has `preflight`: the
//! simulation's `{err, units_consumed, logs_tail}` (or `{skipped: true}`; see
//! [`crate::preflight`]). In dry-run the hot path only moves the wire bytes into a
//! channel; a writer thread encodes and writes them through a buffer, flushing whenever the
//! channel runs dry (so a reader sees every line soon after it is signed) and when the signer
//! stops. Live, [`CaptureWriter::write_now`] writes the line with one `write(2)` before the
//! transaction is sent, so a SIGKILL cannot lose the line of a transaction that left.
//! The file is appended to, never truncated.

use crate::rpc::{base58, base64};
use serde_json::json;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

/// One signed transaction to record.
#[derive(Clone, Debug)]
pub struct CaptureRecord {
    /// Strategy epoch of the intent.
    pub epoch: u64,
    /// Intent seq.
    pub intent_seq: u64,
    /// Tick seq.
    pub tick_seq: u64,
    /// Route id.
    pub route_id: u32,
    /// The transaction's signature.
    pub signature: [u8; 64],
    /// CLOCK_MONOTONIC ns when it was signed.
    pub t_signed_ns: u64,
    /// The intent's hop times: tick received by the feeder, tick published, tick read by
    /// the strategy, intent published, intent read by the signer (CLOCK_MONOTONIC ns).
    pub hops: [u64; 5],
    /// Wire bytes.
    pub tx: Vec<u8>,
    /// Preflight mode: what the simulation said.
    pub preflight: Option<serde_json::Value>,
}

/// One JSON line, newline included.
fn encode(r: &CaptureRecord) -> Vec<u8> {
    let mut line = json!({
        "epoch": r.epoch,
        "intent_seq": r.intent_seq,
        "tick_seq": r.tick_seq,
        "route_id": r.route_id,
        "signature": base58(&r.signature),
        "tx": base64(&r.tx),
        "t_signed_ns": r.t_signed_ns,
        "t_tick_recv_ns": r.hops[0],
        "t_tick_pub_ns": r.hops[1],
        "t_strategy_read_ns": r.hops[2],
        "t_intent_ns": r.hops[3],
        "t_intent_read_ns": r.hops[4],
    });
    if let Some(p) = &r.preflight {
        line["preflight"] = p.clone();
    }
    let mut out = line.to_string().into_bytes();
    out.push(b'\n');
    out
}

/// The capture file's writer thread.
pub struct CaptureWriter {
    path: PathBuf,
    /// The same file (append mode) for synchronous lines.
    direct: std::fs::File,
    /// Lines written by `write_now`.
    direct_lines: std::sync::atomic::AtomicU64,
    tx: Option<Sender<CaptureRecord>>,
    thread: Option<JoinHandle<std::io::Result<u64>>>,
}

impl CaptureWriter {
    /// Opens (creates or appends to) `path` and starts the writer thread. The file holds
    /// transactions signed with a real blockhash: it is created 0600 whatever the umask, an
    /// existing one is set to 0600, and a symlink is never followed (`O_NOFOLLOW`).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        let direct = file.try_clone()?;
        let (tx, rx) = channel::<CaptureRecord>();
        let thread = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let mut out = BufWriter::with_capacity(1 << 16, file);
                let mut lines = 0u64;
                // Blocks until a record arrives; ends when the sender is dropped.
                while let Ok(first) = rx.recv() {
                    let mut next = Some(first);
                    while let Some(r) = next {
                        out.write_all(&encode(&r))?;
                        lines += 1;
                        next = rx.try_recv().ok();
                    }
                    out.flush()?;
                }
                out.flush()?;
                out.get_ref().sync_data()?;
                Ok(lines)
            })?;
        Ok(CaptureWriter {
            path: path.to_owned(),
            direct,
            direct_lines: std::sync::atomic::AtomicU64::new(0),
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// The capture file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Another handle on the writer thread's queue (the preflight thread's); the thread ends
    /// once every handle is dropped and [`CaptureWriter::finish`] is called.
    pub fn sender(&self) -> Option<Sender<CaptureRecord>> {
        self.tx.clone()
    }

    /// Queues `record` for writing; never blocks.
    pub fn record(&self, record: CaptureRecord) {
        if let Some(tx) = &self.tx {
            // Fails only if the writer thread died, which `finish` reports.
            let _ = tx.send(record);
        }
    }

    /// Writes `record`'s line now, with one `write(2)` on the append-mode file (the page
    /// cache keeps it if the process dies next). Live mode uses only this, so its lines never
    /// interleave with the writer thread's.
    pub fn write_now(&self, record: &CaptureRecord) -> std::io::Result<()> {
        (&self.direct).write_all(&encode(record))?;
        // Relaxed: a count read by `finish` on the same thread.
        self.direct_lines
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Writes everything queued, flushes, and returns the number of lines written.
    pub fn finish(mut self) -> std::io::Result<u64> {
        self.tx = None;
        let direct = self.direct_lines.load(std::sync::atomic::Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result.map(|n| n + direct),
            Some(Err(_)) => Err(std::io::Error::other("capture writer thread panicked")),
            None => Ok(0),
        }
    }
}

impl Drop for CaptureWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_becomes_one_json_line_with_the_design_keys() {
        let dir = std::env::temp_dir().join(format!("phantom-capture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.jsonl");
        let _ = std::fs::remove_file(&path);
        let w = CaptureWriter::open(&path).expect("open");
        for k in 0..100u64 {
            w.record(CaptureRecord {
                epoch: 2,
                intent_seq: k,
                tick_seq: k + 10,
                route_id: 1,
                signature: [7; 64],
                t_signed_ns: 99,
                hops: [1, 2, 3, 4, 5],
                tx: vec![1, 2, 3],
                preflight: None,
            });
        }
        assert_eq!(w.finish().expect("finish"), 100);
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines.len(), 100);
        let first = lines[0].as_object().expect("object");
        let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "epoch",
                "intent_seq",
                "route_id",
                "signature",
                "t_intent_ns",
                "t_intent_read_ns",
                "t_signed_ns",
                "t_strategy_read_ns",
                "t_tick_pub_ns",
                "t_tick_recv_ns",
                "tick_seq",
                "tx"
            ]
        );
        assert_eq!(lines[0]["t_tick_recv_ns"], 1);
        assert_eq!(lines[0]["t_intent_read_ns"], 5);
        assert_eq!(lines[99]["intent_seq"], 99);
        // A synchronous line is in the file when write_now returns.
        let w = CaptureWriter::open(&path).expect("reopen");
        w.write_now(&CaptureRecord {
            epoch: 3,
            intent_seq: 100,
            tick_seq: 110,
            route_id: 0,
            signature: [8; 64],
            t_signed_ns: 1,
            hops: [0; 5],
            tx: vec![4],
            preflight: None,
        })
        .expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        let last: serde_json::Value =
            serde_json::from_str(text.lines().last().expect("line")).expect("json");
        assert_eq!(
            (last["epoch"].clone(), last["intent_seq"].clone()),
            (3.into(), 100.into())
        );
        assert_eq!(w.finish().expect("finish"), 1);
        assert_eq!(lines[0]["tx"], "AQID");
        assert_eq!(lines[0]["signature"], bs58::encode([7u8; 64]).into_string());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}

#[cfg(test)]
mod mode_tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn capture_file_is_0600_and_never_opened_through_a_symlink() {
        let dir = std::env::temp_dir().join(format!("phantom-capmode-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        // Fresh file, under a permissive umask's worth of default: 0600.
        let path = dir.join("c.jsonl");
        CaptureWriter::open(&path)
            .expect("open")
            .finish()
            .expect("finish");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "fresh capture file mode {mode:o}");
        // An existing, too-open file is tightened.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        CaptureWriter::open(&path)
            .expect("open")
            .finish()
            .expect("finish");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "existing capture file mode {mode:o}");
        // A symlink planted at the path is refused, and its target untouched.
        let target = dir.join("target");
        std::fs::write(&target, b"x").expect("target");
        let link = dir.join("link.jsonl");
        symlink(&target, &link).expect("symlink");
        assert!(CaptureWriter::open(&link).is_err(), "followed a symlink");
        assert_eq!(std::fs::read(&target).expect("read"), b"x");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
