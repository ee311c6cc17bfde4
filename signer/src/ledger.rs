//! The write-ahead ledger: what the signer committed to, kept across its restarts.
//!
//! A signer-private file (`$XDG_STATE_HOME/phantom-pipeline/<instance>/ledger`, or
//! `~/.local/state/...` without `XDG_STATE_HOME`; `ledger-dry-run` beside it in dry-run, so
//! that rehearsals never spend the live day budget) mapped `MAP_SHARED`. The page cache
//! outlives a SIGKILL of the process, so the hot path needs no `fsync`: a store into the map
//! is in the file as soon as it is made. (A crash of the machine may lose the last records;
//! the ledger guards against the signer dying, not the host.)
//!
//! Before an accepted intent is signed, [`Ledger::write_ahead`] appends a record (run id,
//! epoch, intent seq, tick seq, route, wall-clock time, notional, lamport cost) and publishes
//! it by advancing `next`, then adds the cost to the lamport buckets and raises the run's
//! per-route last tick and last intent seq. After the transaction is signed, recorded and
//! handed to the senders, [`Ledger::finish`] marks the record done. On start,
//! [`Ledger::open`] rebuilds from the file: the lamport windows (every run: the day budget
//! outlives the instance), and for the same run (the control segment's creation, see
//! [`run_id`]) the dedupe set, the rate and notional windows, and the last intent acted on;
//! records still pending are the intents that were in flight when the signer died, and are
//! returned so that the engine reports them.
//!
//! Layout (little-endian): a 64 KiB header, then `capacity` records of 64 bytes in a ring.
//! Header: magic `PHLEDGR1`, version, record size, capacity, `next` (records published),
//! `applied` (records whose cost is in the buckets), the run id the per-run fields belong to,
//! the run's last intent seq, 61 one-second and 1441 one-minute lamport buckets
//! `(bucket number, lamports)`, and the last tick seq of each route in the run.

use crate::limits::{Commit, Limits};
use phantom_ringbuf::records::SegmentHeader;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const MAGIC: u64 = u64::from_le_bytes(*b"PHLEDGR1");
const VERSION: u32 = 1;
const RECORD_SIZE: usize = 64;
const HEADER_BYTES: usize = 64 * 1024;
/// Routes the header keeps a last tick for; config validation refuses more routes.
pub const MAX_ROUTES: usize = 4096;
const MINUTE_BUCKETS: usize = 61;
const DAY_BUCKETS: usize = 1441;
const NS_PER_SEC: u64 = 1_000_000_000;
const NS_PER_MINUTE: u64 = 60 * NS_PER_SEC;
/// Fewest records the ring holds.
const MIN_CAPACITY: u64 = 1 << 12;
/// Most records the ring holds (64 MiB).
const MAX_CAPACITY: u64 = 1 << 20;

// Header offsets.
const OFF_MAGIC: usize = 0;
const OFF_VERSION: usize = 8;
const OFF_RECORD_SIZE: usize = 12;
const OFF_CAPACITY: usize = 16;
const OFF_NEXT: usize = 24;
const OFF_APPLIED: usize = 32;
const OFF_RUN: usize = 40;
const OFF_LAST_INTENT: usize = 48;
const OFF_MINUTE: usize = 64;
const OFF_DAY: usize = OFF_MINUTE + MINUTE_BUCKETS * 16;
const OFF_ROUTES: usize = 24 * 1024;
const _: () = assert!(OFF_DAY + DAY_BUCKETS * 16 <= OFF_ROUTES);
const _: () = assert!(OFF_ROUTES + MAX_ROUTES * 8 <= HEADER_BYTES);

// Record fields.
const R_RUN: usize = 0;
const R_EPOCH: usize = 8;
const R_INTENT: usize = 16;
const R_TICK: usize = 24;
const R_WALL: usize = 32;
const R_COST: usize = 40;
const R_AMOUNT: usize = 48;
const R_ROUTE: usize = 56;
const R_STATE: usize = 60;

/// Record states.
const PENDING: u32 = 1;
const DONE: u32 = 2;
const REPORTED: u32 = 3;

/// "None" in the u64 fields that may be empty.
const NONE: u64 = u64::MAX;

/// Why the ledger could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file or its directory could not be created, opened, sized or mapped.
    #[error("ledger {path}: {what}: {source}")]
    Io {
        /// The ledger file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The file exists but is not a ledger of this version.
    #[error("ledger {path}: {problem}; move it away to start a new ledger (this forgets the day budget spent)")]
    Invalid {
        /// The ledger file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// The run id of an instance: a hash of its control segment's creation (creator pid and
/// start time, wall-clock creation time). A new `start` makes new segments and so a new
/// run; a signer restarted by the supervisor attaches to the same ones.
pub fn run_id(control: &SegmentHeader) -> u64 {
    let mut h = 0x5048_4e54_4d52_554eu64; // "PHNTMRUN"
    for v in [
        u64::from(control.creator_pid),
        control.creator_start_time,
        control.created_unix_ns,
    ] {
        h = phantom_ringbuf::schema::splitmix64(h ^ v);
    }
    h
}

/// The ledger file of `instance`: `$XDG_STATE_HOME/phantom-pipeline/<instance>/ledger`
/// (`~/.local/state` without `XDG_STATE_HOME`), `ledger-dry-run` when not live.
pub fn default_path(instance: &str, live: bool) -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".local/state"),
    };
    let name = if live { "ledger" } else { "ledger-dry-run" };
    Some(base.join("phantom-pipeline").join(instance).join(name))
}

/// A record that was pending when the previous signer died: its intent was accepted and
/// maybe signed and sent; its fate is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlightAtRestart {
    /// Strategy epoch.
    pub epoch: u64,
    /// Intent seq.
    pub intent_seq: u64,
    /// Tick seq.
    pub tick_seq: u64,
    /// Route id.
    pub route_id: u32,
}

/// What [`Ledger::open`] rebuilt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records of this run replayed into the rate, notional and dedupe state.
    pub replayed: u64,
    /// The run's last intent acted on (accepted), if any: intents up to it are not
    /// processed again.
    pub last_intent_seq: Option<u64>,
    /// Pending records of this run, to be reported.
    pub in_flight: Vec<InFlightAtRestart>,
    /// Lamports committed in the rolling minute and day as rebuilt.
    pub committed: (u64, u64),
}

/// The mapped ledger.
pub struct Ledger {
    path: PathBuf,
    base: *mut u8,
    len: usize,
    capacity: u64,
    run: u64,
    /// Slot of the record written by the last `write_ahead` (to mark it done).
    last_slot: Option<u64>,
}

// SAFETY: the mapping is owned by the Ledger (unmapped on drop) and only reached through
// &mut self or atomics; moving it to another thread is as safe as moving a Vec.
unsafe impl Send for Ledger {}

impl Ledger {
    /// Opens (creating if needed) the ledger at `path` for run `run`, sized for
    /// `max_intents_per_second` (a minute of records at least), and rebuilds `limits` from
    /// it.
    pub fn open(
        path: &Path,
        run: u64,
        max_intents_per_second: u32,
        limits: &mut Limits,
        wall_ns: u64,
    ) -> Result<(Ledger, Recovery), LedgerError> {
        let io = |what: &'static str| {
            let path = path.to_owned();
            move |source| LedgerError::Io { path, what, source }
        };
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io("create its directory"))?;
        }
        let file: File = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(io("open"))?;
        let meta = file.metadata().map_err(io("stat"))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(LedgerError::Invalid {
                path: path.to_owned(),
                problem: format!(
                    "mode {:o} lets others read or write it; expected 0600",
                    meta.permissions().mode() & 0o777
                ),
            });
        }
        let wanted = (u64::from(max_intents_per_second) * 62)
            .next_power_of_two()
            .clamp(MIN_CAPACITY, MAX_CAPACITY);
        let fresh = meta.len() == 0;
        let capacity = if fresh {
            wanted
        } else {
            Self::read_capacity(&file, path)?
        };
        let len = HEADER_BYTES + capacity as usize * RECORD_SIZE;
        if fresh {
            file.set_len(len as u64).map_err(io("size"))?;
        } else if meta.len() != len as u64 {
            return Err(LedgerError::Invalid {
                path: path.to_owned(),
                problem: format!("{} bytes, expected {len}", meta.len()),
            });
        }
        // SAFETY: mapping a regular file we opened read-write, of exactly `len` bytes, shared
        // so that stores reach the page cache; nothing else in this process maps it, and the
        // pointer is checked against MAP_FAILED below.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(&file),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(LedgerError::Io {
                path: path.to_owned(),
                what: "map",
                source: std::io::Error::last_os_error(),
            });
        }
        let mut ledger = Ledger {
            path: path.to_owned(),
            base: base.cast(),
            len,
            capacity,
            run,
            last_slot: None,
        };
        if fresh {
            ledger.init();
        } else {
            ledger.check_header()?;
        }
        let recovery = ledger.recover(limits, wall_ns);
        Ok((ledger, recovery))
    }

    fn read_capacity(file: &File, path: &Path) -> Result<u64, LedgerError> {
        use std::os::unix::fs::FileExt;
        let mut head = [0u8; 24];
        file.read_exact_at(&mut head, 0)
            .map_err(|source| LedgerError::Io {
                path: path.to_owned(),
                what: "read its header",
                source,
            })?;
        let word = |o: usize| u64::from_le_bytes(head[o..o + 8].try_into().unwrap_or([0; 8]));
        if word(OFF_MAGIC) != MAGIC {
            return Err(LedgerError::Invalid {
                path: path.to_owned(),
                problem: "not a phantom-pipeline ledger (bad magic)".into(),
            });
        }
        let capacity = word(OFF_CAPACITY);
        if !capacity.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
            return Err(LedgerError::Invalid {
                path: path.to_owned(),
                problem: format!("capacity {capacity} is not a power of two in range"),
            });
        }
        Ok(capacity)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        debug_assert!(offset.is_multiple_of(8) && offset + 8 <= self.len);
        // SAFETY: `offset` is 8-aligned and inside the mapping (asserted; callers pass header
        // constants or record offsets below `len`), the mapping is page-aligned and lives as
        // long as `self`, and only this process maps the file; AtomicU64 has u64's layout.
        unsafe { AtomicU64::from_ptr(self.base.add(offset).cast()) }
    }

    fn half(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset.is_multiple_of(4) && offset + 4 <= self.len);
        // SAFETY: as in `word`, for a 4-aligned u32.
        unsafe { AtomicU32::from_ptr(self.base.add(offset).cast()) }
    }

    fn get(&self, offset: usize) -> u64 {
        // Relaxed: one process owns the file; the atomics only make the accesses defined.
        self.word(offset).load(Ordering::Relaxed)
    }

    fn set(&self, offset: usize, v: u64) {
        self.word(offset).store(v, Ordering::Relaxed);
    }

    fn record(&self, index: u64) -> usize {
        HEADER_BYTES + (index & (self.capacity - 1)) as usize * RECORD_SIZE
    }

    fn init(&mut self) {
        self.set(OFF_CAPACITY, self.capacity);
        self.half(OFF_VERSION).store(VERSION, Ordering::Relaxed);
        self.half(OFF_RECORD_SIZE)
            .store(RECORD_SIZE as u32, Ordering::Relaxed);
        self.set(OFF_NEXT, 0);
        self.set(OFF_APPLIED, 0);
        self.set(OFF_RUN, NONE);
        self.set(OFF_LAST_INTENT, NONE);
        for i in 0..MINUTE_BUCKETS {
            self.set(OFF_MINUTE + 16 * i, NONE);
        }
        for i in 0..DAY_BUCKETS {
            self.set(OFF_DAY + 16 * i, NONE);
        }
        for r in 0..MAX_ROUTES {
            self.set(OFF_ROUTES + 8 * r, NONE);
        }
        // Release: the magic goes last; a header with the magic is complete.
        self.word(OFF_MAGIC).store(MAGIC, Ordering::Release);
    }

    fn check_header(&self) -> Result<(), LedgerError> {
        let version = self.half(OFF_VERSION).load(Ordering::Relaxed);
        let record = self.half(OFF_RECORD_SIZE).load(Ordering::Relaxed);
        if version != VERSION || record as usize != RECORD_SIZE {
            return Err(LedgerError::Invalid {
                path: self.path.clone(),
                problem: format!(
                    "version {version} with {record}-byte records; this signer writes version \
                     {VERSION} with {RECORD_SIZE}"
                ),
            });
        }
        Ok(())
    }

    /// Adds `cost` to the header's lamport buckets at `wall_ns`.
    fn add_buckets(&self, wall_ns: u64, cost: u64) {
        for (off, n, width) in [
            (OFF_MINUTE, MINUTE_BUCKETS, NS_PER_SEC),
            (OFF_DAY, DAY_BUCKETS, NS_PER_MINUTE),
        ] {
            let b = wall_ns / width;
            let at = off + 16 * (b % n as u64) as usize;
            let held = self.get(at);
            // A newer bucket in the slot (the clock stepped back) takes the cost: it is kept
            // longer, which errs on the safe side.
            if held == NONE || held < b {
                self.set(at + 8, 0);
                self.set(at, b);
            }
            self.set(at + 8, self.get(at + 8).saturating_add(cost));
        }
    }

    fn recover(&mut self, limits: &mut Limits, wall_ns: u64) -> Recovery {
        let next = self.get(OFF_NEXT);
        let first = next.saturating_sub(self.capacity);
        // Costs of records published but not yet in the buckets (died in between): add
        // them now. A death between the bucket update and `applied` counts one cost twice,
        // on the safe side.
        let applied = self.get(OFF_APPLIED).clamp(first, next);
        for i in applied..next {
            let r = self.record(i);
            self.add_buckets(self.get(r + R_WALL), self.get(r + R_COST));
        }
        self.set(OFF_APPLIED, next);
        // The lamport windows, every run.
        for (off, n, width) in [
            (OFF_MINUTE, MINUTE_BUCKETS, NS_PER_SEC),
            (OFF_DAY, DAY_BUCKETS, NS_PER_MINUTE),
        ] {
            for i in 0..n {
                let b = self.get(off + 16 * i);
                let v = self.get(off + 16 * i + 8);
                if b != NONE && v > 0 {
                    limits.restore_lamports(width == NS_PER_SEC, b.saturating_mul(width), v);
                }
            }
        }
        let mut rec = Recovery::default();
        if self.get(OFF_RUN) != self.run {
            // A new run: its ticks start over. Lamports stay (above).
            for r in 0..MAX_ROUTES {
                self.set(OFF_ROUTES + 8 * r, NONE);
            }
            self.set(OFF_LAST_INTENT, NONE);
            self.set(OFF_RUN, self.run);
        } else {
            // Dedupe beyond the records still in the ring.
            for r in 0..MAX_ROUTES {
                let t = self.get(OFF_ROUTES + 8 * r);
                if t != NONE {
                    limits.restore_last_tick(r as u32, t);
                }
            }
            let last = self.get(OFF_LAST_INTENT);
            rec.last_intent_seq = (last != NONE).then_some(last);
            for i in first..next {
                let r = self.record(i);
                if self.get(r + R_RUN) != self.run {
                    continue;
                }
                let commit = Commit {
                    route_id: self.half(r + R_ROUTE).load(Ordering::Relaxed),
                    tick_seq: self.get(r + R_TICK),
                    amount_in: self.get(r + R_AMOUNT),
                    cost: self.get(r + R_COST),
                    wall_ns: self.get(r + R_WALL),
                };
                limits.restore(&commit);
                rec.replayed += 1;
                let seq = self.get(r + R_INTENT);
                rec.last_intent_seq = Some(rec.last_intent_seq.map_or(seq, |l| l.max(seq)));
                if self.half(r + R_STATE).load(Ordering::Relaxed) == PENDING {
                    rec.in_flight.push(InFlightAtRestart {
                        epoch: self.get(r + R_EPOCH),
                        intent_seq: seq,
                        tick_seq: commit.tick_seq,
                        route_id: commit.route_id,
                    });
                    self.half(r + R_STATE).store(REPORTED, Ordering::Relaxed);
                }
            }
        }
        rec.committed = limits.committed_lamports(wall_ns);
        rec
    }

    /// Records `commit` of the intent (`epoch`, `intent_seq`) before it is signed.
    pub fn write_ahead(&mut self, commit: &Commit, epoch: u64, intent_seq: u64) {
        let i = self.get(OFF_NEXT);
        let r = self.record(i);
        self.set(r + R_RUN, self.run);
        self.set(r + R_EPOCH, epoch);
        self.set(r + R_INTENT, intent_seq);
        self.set(r + R_TICK, commit.tick_seq);
        self.set(r + R_WALL, commit.wall_ns);
        self.set(r + R_COST, commit.cost);
        self.set(r + R_AMOUNT, commit.amount_in);
        self.half(r + R_ROUTE)
            .store(commit.route_id, Ordering::Relaxed);
        self.half(r + R_STATE).store(PENDING, Ordering::Relaxed);
        // Release: the record's fields are in place before it counts (a SIGKILL stops the
        // process between instructions; the compiler must not sink the stores below this).
        self.word(OFF_NEXT).store(i + 1, Ordering::Release);
        self.add_buckets(commit.wall_ns, commit.cost);
        self.set(OFF_APPLIED, i + 1);
        let route = OFF_ROUTES + 8 * (commit.route_id as usize).min(MAX_ROUTES - 1);
        let t = self.get(route);
        if t == NONE || t < commit.tick_seq {
            self.set(route, commit.tick_seq);
        }
        let last = self.get(OFF_LAST_INTENT);
        if last == NONE || last < intent_seq {
            self.set(OFF_LAST_INTENT, intent_seq);
        }
        self.last_slot = Some(i);
    }

    /// The intent of the last [`Ledger::write_ahead`] is finished: signed and recorded, and
    /// handed to the senders (or refused after acceptance).
    pub fn finish(&mut self) {
        if let Some(i) = self.last_slot.take() {
            let r = self.record(i);
            // Release: pairs with nothing in-process; orders the mark after the work.
            self.half(r + R_STATE).store(DONE, Ordering::Release);
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are the mapping made in `open`, unmapped once, here; no
        // reference into it outlives `self`.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LimitsConfig;
    use crate::limits::{Context, EpochFence, Refusal, RouteRules};
    use phantom_ringbuf::records::OrderIntent;
    use phantom_ringbuf::schema::Record;

    fn cfg() -> LimitsConfig {
        LimitsConfig {
            max_intents_per_second: 1_000,
            max_notional_per_minute_raw: 1_000_000,
            max_open_intents: 1_000,
            max_tick_age_ms: 1_000,
            max_compute_unit_price_micro_lamports: 1_000,
            max_tip_lamports: 0,
            max_lamports_per_minute: 30_000,
            max_lamports_per_day: 50_000,
        }
    }

    fn limits() -> Limits {
        let route = RouteRules {
            max_amount_in_raw: 1_000,
            legs: 1,
            swap: [true, false, false],
            cyclic: false,
            min_profit_raw: 0,
            min_out_per_in_ppm: None,
            compute_unit_limit: 200_000,
        };
        Limits::new(&cfg(), vec![route, route], 1_000)
    }

    fn intent(seq: u64, tick: u64, route: u32, now: u64) -> OrderIntent {
        let mut i = OrderIntent::zeroed();
        i.seq = seq;
        i.epoch = 1;
        i.tick_seq = tick;
        i.route_id = route;
        i.amount_in[0] = 10;
        i.min_out[0] = 1;
        i.t_tick_recv_ns = now;
        i
    }

    fn ctx(t: u64) -> Context {
        Context {
            now_ns: t,
            wall_ns: t,
            kill_switch: false,
            fence: EpochFence {
                current_epoch: 1,
                ..EpochFence::default()
            },
            blockhash_age_ns: Some(0),
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("phantom-ledger-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_restart_in_the_same_run_refuses_what_was_signed_and_keeps_the_budget() {
        let path = dir("same").join("ledger");
        let t = 1_000_000 * NS_PER_SEC;
        let mut l = limits();
        let (mut ledger, rec) = Ledger::open(&path, 7, 1_000, &mut l, t).expect("open");
        assert_eq!(rec, Recovery::default());
        for k in 0..3 {
            let c = l.check(&intent(k, k, 0, t), &ctx(t)).expect("accepted");
            ledger.write_ahead(&c, 1, k);
            if k < 2 {
                ledger.finish();
            } // the third dies in flight
        }
        drop(ledger);
        let mut l2 = limits();
        let (_ledger, rec) = Ledger::open(&path, 7, 1_000, &mut l2, t + 1).expect("reopen");
        assert_eq!(rec.replayed, 3);
        assert_eq!(rec.last_intent_seq, Some(2));
        assert_eq!(
            rec.in_flight,
            vec![InFlightAtRestart {
                epoch: 1,
                intent_seq: 2,
                tick_seq: 2,
                route_id: 0
            }]
        );
        assert_eq!(rec.committed, (15_000, 15_000));
        assert_eq!(
            l2.check(&intent(3, 2, 0, t), &ctx(t + 1)).map(|_| ()),
            Err(Refusal::Duplicate)
        );
        // Three more fit the minute (30 000), a fourth does not.
        for k in 3..6 {
            assert!(
                l2.check(&intent(k + 1, k, 0, t), &ctx(t + k)).is_ok(),
                "{k}"
            );
        }
        assert_eq!(
            l2.check(&intent(7, 6, 0, t), &ctx(t + 6)).map(|_| ()),
            Err(Refusal::LamportBudgetMinute)
        );
        // Reported once: a second restart finds nothing in flight.
        let mut l3 = limits();
        let (_ledger, rec) = Ledger::open(&path, 7, 1_000, &mut l3, t + 5).expect("reopen");
        assert!(rec.in_flight.is_empty());
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }

    #[test]
    fn a_new_run_starts_ticks_over_but_not_the_day_budget() {
        let path = dir("runs").join("ledger");
        let t = 2_000_000 * NS_PER_SEC;
        let mut l = limits();
        let (mut ledger, _) = Ledger::open(&path, 1, 1_000, &mut l, t).expect("open");
        for k in 0..5 {
            // Spread over five minutes: the minute window empties, the day does not.
            let at = t + k * 61 * NS_PER_SEC;
            let c = l.check(&intent(k, k, 1, at), &ctx(at)).expect("accepted");
            ledger.write_ahead(&c, 1, k);
            ledger.finish();
        }
        drop(ledger);
        let later = t + 10 * 60 * NS_PER_SEC;
        let mut l2 = limits();
        let (_ledger, rec) = Ledger::open(&path, 2, 1_000, &mut l2, later).expect("reopen");
        assert_eq!(rec.last_intent_seq, None);
        assert_eq!(rec.committed, (0, 25_000));
        // Tick 0 again is new in the new run; the day holds 25 000 + 5 000 * 5 = 50 000.
        for k in 0..5 {
            assert!(
                l2.check(&intent(k, k, 1, later), &ctx(later + k)).is_ok(),
                "{k}"
            );
            l2.finish();
        }
        assert_eq!(
            l2.check(&intent(5, 5, 1, later), &ctx(later + 5))
                .map(|_| ()),
            Err(Refusal::LamportBudgetDay)
        );
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }

    #[test]
    fn a_foreign_or_loose_file_is_refused_not_overwritten() {
        let d = dir("foreign");
        std::fs::create_dir_all(&d).expect("dir");
        let path = d.join("ledger");
        std::fs::write(
            &path,
            b"not a ledger at all, but long enough to have a header....",
        )
        .expect("w");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let e = Ledger::open(&path, 1, 1_000, &mut limits(), 0)
            .err()
            .expect("refused");
        assert!(e.to_string().contains("bad magic"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = Ledger::open(&path, 1, 1_000, &mut limits(), 0)
            .err()
            .expect("refused");
        assert!(e.to_string().contains("0600"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
