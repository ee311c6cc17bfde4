//! The send-time log: one fixed 24-byte record per notification frame the PubSub server
//! sends, so a benchmark can join the feeder's `t_recv_ns` (and everything after it) on
//! the moment the frame left the simulator, without changing the protocol frames.
//!
//! Format (little-endian, appended, no header): `t_send_ns: u64` (CLOCK_MONOTONIC, the
//! clock of every record), `slot: u64`, `account: u32` (index in the simulator's account
//! table; `u32::MAX` for a slot notification), `connection: u32`.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc;

/// Bytes per record.
pub const RECORD_SIZE: usize = 24;

/// A handle to the writer thread (cheap to clone).
#[derive(Clone)]
pub struct SendLog {
    tx: mpsc::Sender<[u8; RECORD_SIZE]>,
}

impl SendLog {
    /// Append to `path` from a background thread (created or truncated).
    pub fn create(path: &Path) -> std::io::Result<(SendLog, std::thread::JoinHandle<()>)> {
        let file = std::fs::File::create(path)?;
        let (tx, rx) = mpsc::channel::<[u8; RECORD_SIZE]>();
        let handle = std::thread::spawn(move || {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            while let Ok(rec) = rx.recv() {
                let mut ok = w.write_all(&rec).is_ok();
                // Write the rest of the burst, then flush: a reader sees whole records soon.
                while let (true, Ok(more)) = (ok, rx.try_recv()) {
                    ok = w.write_all(&more).is_ok();
                }
                if !ok || w.flush().is_err() {
                    return;
                }
            }
        });
        Ok((SendLog { tx }, handle))
    }

    /// Log one frame (never blocks the sender).
    pub fn record(&self, t_send_ns: u64, slot: u64, account: u32, connection: u32) {
        let mut r = [0u8; RECORD_SIZE];
        r[0..8].copy_from_slice(&t_send_ns.to_le_bytes());
        r[8..16].copy_from_slice(&slot.to_le_bytes());
        r[16..20].copy_from_slice(&account.to_le_bytes());
        r[20..24].copy_from_slice(&connection.to_le_bytes());
        let _ = self.tx.send(r);
    }
}
