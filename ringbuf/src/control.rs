//! The control block (`phantom-<instance>-control`) and the writer-scoped views through which
//! each process writes only its own fields.
//!
//! Every field of [`ControlBlock`] is an atomic, so any process may hold a shared reference
//! and read anything ([`Control::block`]). Writes go through a view named for the writer:
//! [`FeederView`] for the feeder's counters, heartbeat and per-endpoint figures;
//! [`SignerView`] for the signer's. Each view offers only its owner's fields, so a
//! process cannot write another's state by mistake, and when the block is split into one
//! segment per writer the views keep their shape (each will map its own area writable and
//! the others read-only).
//!
//! Orderings: counters and heartbeats are statistics (Relaxed). The signer's announcement
//! writes the capture path first and then `signer_mode` with Release; a reader loads
//! `signer_mode` with Acquire before the path.

use crate::names::segment_name;
#[cfg(doc)]
use crate::records::reject_reason;
use crate::records::ControlBlock;
use crate::segment::{CreateOptions, Result};
use crate::table::Table;
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// Role name of the control segment.
pub const ROLE: &str = "control";

/// An instance's mapped control block.
pub struct Control {
    table: Table<ControlBlock>,
}

impl Control {
    /// Attach to instance `instance`'s control block.
    pub fn attach(instance: &str) -> Result<Self> {
        Ok(Control {
            table: Table::attach(&segment_name(instance, ROLE), Some(1))?,
        })
    }

    /// Create instance `instance`'s control block (the supervisor; tests and tools).
    pub fn create(instance: &str, opts: &CreateOptions) -> Result<Self> {
        Ok(Control {
            table: Table::create(&segment_name(instance, ROLE), 1, opts)?,
        })
    }

    /// The whole block, to read (every field is atomic).
    pub fn block(&self) -> &ControlBlock {
        self.table.entry(0)
    }

    /// The mapped segment.
    pub fn table(&self) -> &Table<ControlBlock> {
        &self.table
    }

    /// The feeder's fields, to write.
    pub fn feeder(&self) -> FeederView<'_> {
        FeederView(self.block())
    }

    /// The signer's fields, to write.
    pub fn signer(&self) -> SignerView<'_> {
        SignerView(self.block())
    }

    /// Whether the supervisor asked the instance to stop (`run_state` non-zero).
    pub fn stopping(&self) -> bool {
        // Acquire: pairs with the supervisor's store; what it wrote before asking is seen.
        self.block().run_state.load(Ordering::Acquire) != 0
    }

    /// Whether the kill switch is on.
    pub fn kill_switch(&self) -> bool {
        // Acquire: pairs with the CLI's Release store of the switch.
        self.block().kill_switch.load(Ordering::Acquire) != 0
    }
}

/// A feeder counter in the control block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeederCounter {
    /// Account notifications received.
    Notifications,
    /// Frames or accounts that failed to parse or decode.
    DecodeErrors,
    /// Copies of an update already seen from another endpoint.
    Duplicates,
    /// Updates refused because of an older slot than the pool's last.
    StaleSlot,
    /// Market events lost to a full ring.
    Overflows,
    /// `Resync` records published.
    Resyncs,
    /// `Gap` records published.
    Gaps,
}

/// A per-endpoint refusal counter of the feeder in the control block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointCounter {
    /// Updates refused for a slot beyond the bound (`[feeder] max_slot_lead`).
    SlotRefused,
    /// Accounts refused for an owner other than their program.
    OwnerRefused,
    /// Connections dropped for a frame over `max_frame_bytes`.
    FramesTooLarge,
    /// Subscription replies refused (repeated or unknown request).
    SubscriptionRepliesRefused,
    /// Refetches that failed or timed out.
    RefetchFailures,
}

/// The per-endpoint counters of kind `c`.
pub fn endpoint_counters(b: &ControlBlock, c: EndpointCounter) -> &[AtomicU64; 8] {
    match c {
        EndpointCounter::SlotRefused => &b.endpoint_slot_refused,
        EndpointCounter::OwnerRefused => &b.endpoint_owner_refused,
        EndpointCounter::FramesTooLarge => &b.endpoint_frames_too_large,
        EndpointCounter::SubscriptionRepliesRefused => &b.endpoint_subscription_replies_refused,
        EndpointCounter::RefetchFailures => &b.endpoint_refetch_failures,
    }
}

/// The feeder's writable fields.
#[derive(Clone, Copy)]
pub struct FeederView<'a>(&'a ControlBlock);

impl FeederView<'_> {
    fn counter(&self, c: FeederCounter) -> &AtomicU64 {
        let b = self.0;
        match c {
            FeederCounter::Notifications => &b.feeder_notifications,
            FeederCounter::DecodeErrors => &b.feeder_decode_errors,
            FeederCounter::Duplicates => &b.feeder_duplicates,
            FeederCounter::StaleSlot => &b.feeder_stale_slot,
            FeederCounter::Overflows => &b.feeder_overflows,
            FeederCounter::Resyncs => &b.feeder_resyncs,
            FeederCounter::Gaps => &b.feeder_gaps,
        }
    }

    /// Add `n` to counter `c` (Relaxed: statistics).
    pub fn add(&self, c: FeederCounter, n: u64) {
        self.counter(c).fetch_add(n, Ordering::Relaxed);
    }

    /// Refresh the feeder's heartbeat.
    pub fn heartbeat(&self, now_ns: u64) {
        self.0.hb_feeder_ns.store(now_ns, Ordering::Relaxed);
    }

    /// Record the feeder's pid.
    pub fn set_pid(&self, pid: u32) {
        self.0.pid_feeder.store(pid, Ordering::Relaxed);
    }

    /// Count a first arrival won by `endpoint` (ignored beyond the 8 tracked endpoints).
    pub fn endpoint_won(&self, endpoint: u8) {
        if let Some(w) = self.0.endpoint_wins.get(usize::from(endpoint)) {
            w.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Record how far `endpoint` lagged behind the winner, last observed.
    pub fn endpoint_lag(&self, endpoint: u8, lag_ns: u64) {
        if let Some(l) = self.0.endpoint_lag_ns.get(usize::from(endpoint)) {
            l.store(lag_ns, Ordering::Relaxed);
        }
    }

    /// Count one refusal of kind `c` for `endpoint` (ignored beyond the 8 tracked endpoints).
    pub fn endpoint_count(&self, c: EndpointCounter, endpoint: u8) {
        if let Some(n) = endpoint_counters(self.0, c).get(usize::from(endpoint)) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Record whether `endpoint` is connected.
    pub fn endpoint_connected(&self, endpoint: u8, up: bool) {
        if let Some(c) = self.0.endpoint_connected.get(usize::from(endpoint)) {
            c.store(u8::from(up), Ordering::Relaxed);
        }
    }
}

/// A signer counter in the control block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerCounter {
    /// Intents accepted.
    Accepted,
    /// Transactions signed.
    Signed,
    /// Transactions sent.
    Sent,
    /// Transactions landed.
    Landed,
    /// Transactions failed.
    Failed,
}

/// The signer's writable fields.
#[derive(Clone, Copy)]
pub struct SignerView<'a>(&'a ControlBlock);

impl SignerView<'_> {
    /// Add `n` to counter `c` (Relaxed: statistics).
    pub fn add(&self, c: SignerCounter, n: u64) {
        let b = self.0;
        let counter = match c {
            SignerCounter::Accepted => &b.signer_accepted,
            SignerCounter::Signed => &b.signer_signed,
            SignerCounter::Sent => &b.signer_sent,
            SignerCounter::Landed => &b.signer_landed,
            SignerCounter::Failed => &b.signer_failed,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Count one rejection with reason code `reason` (a [`reject_reason`], below 32), in the
    /// total and per reason.
    pub fn rejected(&self, reason: u8) {
        debug_assert!(usize::from(reason) < self.0.signer_reject_reasons.len());
        self.0.signer_rejected.fetch_add(1, Ordering::Relaxed);
        if let Some(r) = self.0.signer_reject_reasons.get(usize::from(reason)) {
            r.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Refresh the signer's heartbeat.
    pub fn heartbeat(&self, now_ns: u64) {
        self.0.hb_signer_ns.store(now_ns, Ordering::Relaxed);
    }

    /// Record the signer's pid.
    pub fn set_pid(&self, pid: u32) {
        self.0.pid_signer.store(pid, Ordering::Relaxed);
    }

    /// Publish the lamport budget: committed in the rolling minute and day, and the limits
    /// (Relaxed: read on their own by `status`).
    pub fn budget(&self, committed_minute: u64, committed_day: u64, limits: (u64, u64)) {
        let b = self.0;
        b.signer_budget_committed_minute
            .store(committed_minute, Ordering::Relaxed);
        b.signer_budget_committed_day
            .store(committed_day, Ordering::Relaxed);
        b.signer_budget_limit_minute
            .store(limits.0, Ordering::Relaxed);
        b.signer_budget_limit_day.store(limits.1, Ordering::Relaxed);
    }

    /// Announce the signer's mode and capture file path (truncated to the field at a UTF-8
    /// boundary): the path first, then `mode` with Release, which publishes it.
    pub fn announce(&self, mode: u32, capture_path: &str) {
        write_str(&self.0.signer_capture_path, capture_path);
        self.0.signer_mode.store(mode, Ordering::Release);
    }
}

/// Write `text` NUL-padded into a byte field, truncated at a UTF-8 boundary so that at least
/// one NUL remains.
fn write_str(field: &[AtomicU8], text: &str) {
    let mut n = text.len().min(field.len().saturating_sub(1));
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    for (i, byte) in field.iter().enumerate() {
        let b = if i < n { text.as_bytes()[i] } else { 0 };
        byte.store(b, Ordering::Relaxed);
    }
}

/// Read a NUL-padded UTF-8 byte field.
pub fn read_str(field: &[AtomicU8]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .map(|b| b.load(Ordering::Relaxed))
        .take_while(|&b| b != 0)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::reject_reason;
    use crate::segment;

    #[test]
    fn views_write_their_owners_fields() {
        let instance = format!("ctltest{}", std::process::id());
        let c = Control::create(&instance, &CreateOptions::default()).unwrap();
        c.feeder().add(FeederCounter::Gaps, 3);
        c.feeder().endpoint_won(1);
        c.feeder().endpoint_won(9); // beyond the tracked endpoints: ignored
        c.feeder().endpoint_connected(2, true);
        c.signer().rejected(reject_reason::KILL_SWITCH);
        c.signer().announce(2, "/tmp/ü/capture.jsonl");
        let b = c.block();
        assert_eq!(b.feeder_gaps.load(Ordering::Relaxed), 3);
        assert_eq!(b.endpoint_wins[1].load(Ordering::Relaxed), 1);
        assert_eq!(b.endpoint_connected[2].load(Ordering::Relaxed), 1);
        assert_eq!(b.signer_rejected.load(Ordering::Relaxed), 1);
        let code = usize::from(reject_reason::KILL_SWITCH);
        assert_eq!(b.signer_reject_reasons[code].load(Ordering::Relaxed), 1);
        assert_eq!(b.signer_mode.load(Ordering::Acquire), 2);
        assert_eq!(read_str(&b.signer_capture_path), "/tmp/ü/capture.jsonl");
        drop(c);
        segment::remove(&segment_name(&instance, ROLE)).unwrap();
    }

    #[test]
    fn long_strings_are_cut_at_a_char_boundary() {
        let field: Vec<AtomicU8> = (0..8).map(|_| AtomicU8::new(0xff)).collect();
        write_str(&field, "abcdefü");
        // 7 bytes fit with the NUL; 'ü' is 2 bytes, so the cut falls before it.
        assert_eq!(read_str(&field), "abcdef");
        write_str(&field, "xy");
        assert_eq!(read_str(&field), "xy");
    }
}
