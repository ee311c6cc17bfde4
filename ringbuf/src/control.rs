//! The control block, split by writer into four one-entry segments, and the writer-scoped
//! views through which each process writes only its own state.
//!
//! | role (segment `phantom-<instance>-<role>`) | record | writable in |
//! |---|---|---|
//! | `control` | [`SupervisorBlock`] | supervisor, CLI (kill switch, params) |
//! | `feeder` | [`FeederBlock`] | feeder (and the supervisor that creates it) |
//! | `signer` | [`SignerBlock`] | signer (and the supervisor that creates it) |
//! | `strategy` | [`StrategyBlock`] | strategy processes, supervisor (lease recovery) |
//!
//! A process attaches with [`Control::attach`] naming itself ([`Writer`]): its own segment
//! is mapped read-write, every other one read-only from an `O_RDONLY` descriptor, so a
//! write to another's state faults and cannot be made possible later (`mprotect` refuses
//! `PROT_WRITE` on such a mapping). Every field is an atomic, so any process may hold a
//! shared reference and read anything. Writes go through a view named for the writer:
//! [`FeederView`] for the feeder's counters, heartbeat and per-endpoint figures;
//! [`SignerView`] for the signer's; asking for a view of a segment mapped read-only is a
//! programming error and panics.
//!
//! Orderings: counters and heartbeats are statistics (Relaxed). The signer's announcement
//! writes the capture path first and then `signer_mode` with Release; a reader loads
//! `signer_mode` with Acquire before the path.

use crate::names::segment_name;
#[cfg(doc)]
use crate::records::reject_reason;
use crate::records::{FeederBlock, SignerBlock, StrategyBlock, SupervisorBlock};
use crate::schema::AtomicRecord;
use crate::segment::{CreateOptions, Result};
use crate::shm::Access;
use crate::table::Table;
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// Role of the supervisor's segment.
pub const ROLE: &str = "control";
/// Role of the feeder's segment.
pub const FEEDER_ROLE: &str = "feeder";
/// Role of the signer's segment.
pub const SIGNER_ROLE: &str = "signer";
/// Role of the strategy's segment.
pub const STRATEGY_ROLE: &str = "strategy";
/// The four control roles, in creation order.
pub const ROLES: [&str; 4] = [ROLE, FEEDER_ROLE, SIGNER_ROLE, STRATEGY_ROLE];

/// Which process attaches, and so which control segment it maps writable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// The supervisor's `control` segment (the CLI's kill switch and params too).
    Supervisor,
    /// The feeder's segment.
    Feeder,
    /// The signer's segment.
    Signer,
    /// The strategy's segment.
    Strategy,
    /// Nothing: every segment read-only (`status`, `inspect`, tools).
    Reader,
}

/// An instance's four mapped control segments.
pub struct Control {
    supervisor: Table<SupervisorBlock>,
    feeder: Table<FeederBlock>,
    signer: Table<SignerBlock>,
    strategy: Table<StrategyBlock>,
}

fn attach_one<T: AtomicRecord>(instance: &str, role: &str, own: bool) -> Result<Table<T>> {
    let access = if own {
        Access::ReadWrite
    } else {
        Access::ReadOnly
    };
    Table::attach_as(&segment_name(instance, role), Some(1), access)
}

impl Control {
    /// Attach to instance `instance`'s control segments as `writer`: its own read-write,
    /// the others read-only.
    pub fn attach(instance: &str, writer: Writer) -> Result<Self> {
        Ok(Control {
            supervisor: attach_one(instance, ROLE, writer == Writer::Supervisor)?,
            feeder: attach_one(instance, FEEDER_ROLE, writer == Writer::Feeder)?,
            signer: attach_one(instance, SIGNER_ROLE, writer == Writer::Signer)?,
            strategy: attach_one(instance, STRATEGY_ROLE, writer == Writer::Strategy)?,
        })
    }

    /// Create instance `instance`'s four control segments, all mapped read-write (the
    /// supervisor; tests and tools).
    pub fn create(instance: &str, opts: &CreateOptions) -> Result<Self> {
        let make = |role: &str| CreateOptions {
            role: role.to_owned(),
            ..opts.clone()
        };
        Ok(Control {
            supervisor: Table::create(&segment_name(instance, ROLE), 1, &make(ROLE))?,
            feeder: Table::create(&segment_name(instance, FEEDER_ROLE), 1, &make(FEEDER_ROLE))?,
            signer: Table::create(&segment_name(instance, SIGNER_ROLE), 1, &make(SIGNER_ROLE))?,
            strategy: Table::create(
                &segment_name(instance, STRATEGY_ROLE),
                1,
                &make(STRATEGY_ROLE),
            )?,
        })
    }

    /// The supervisor's block, to read.
    pub fn supervisor(&self) -> &SupervisorBlock {
        self.supervisor.entry(0)
    }

    /// The feeder's block, to read.
    pub fn feeder_block(&self) -> &FeederBlock {
        self.feeder.entry(0)
    }

    /// The signer's block, to read.
    pub fn signer_block(&self) -> &SignerBlock {
        self.signer.entry(0)
    }

    /// The strategy's block (lease and handover), to read.
    pub fn strategy(&self) -> &StrategyBlock {
        self.strategy.entry(0)
    }

    /// The header of the supervisor's `control` segment (its creator identifies the run).
    pub fn header(&self) -> &crate::records::SegmentHeader {
        self.supervisor.segment().header()
    }

    /// The four mapped tables' names, for messages and removal.
    pub fn names(&self) -> [&str; 4] {
        [
            self.supervisor.segment().name(),
            self.feeder.segment().name(),
            self.signer.segment().name(),
            self.strategy.segment().name(),
        ]
    }

    /// The feeder's fields, to write. Panics unless the feeder's segment is mapped
    /// writable here.
    pub fn feeder(&self) -> FeederView<'_> {
        assert!(
            self.feeder.segment().writable(),
            "the feeder's control segment is mapped read-only in this process"
        );
        FeederView(self.feeder_block())
    }

    /// The signer's fields, to write. Panics unless the signer's segment is mapped
    /// writable here.
    pub fn signer(&self) -> SignerView<'_> {
        assert!(
            self.signer.segment().writable(),
            "the signer's control segment is mapped read-only in this process"
        );
        SignerView(self.signer_block())
    }

    /// Whether the supervisor asked the instance to stop (`run_state` non-zero).
    pub fn stopping(&self) -> bool {
        // Acquire: pairs with the supervisor's store; what it wrote before asking is seen.
        self.supervisor().run_state.load(Ordering::Acquire) != 0
    }

    /// Whether the kill switch is on.
    pub fn kill_switch(&self) -> bool {
        // Acquire: pairs with the CLI's Release store of the switch.
        self.supervisor().kill_switch.load(Ordering::Acquire) != 0
    }
}

/// A feeder counter in the feeder's control segment.
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
pub fn endpoint_counters(b: &FeederBlock, c: EndpointCounter) -> &[AtomicU64; 8] {
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
pub struct FeederView<'a>(&'a FeederBlock);

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
pub struct SignerView<'a>(&'a SignerBlock);

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

    fn remove_all(instance: &str) {
        for role in ROLES {
            segment::remove(&segment_name(instance, role)).unwrap();
        }
    }

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
        let f = c.feeder_block();
        assert_eq!(f.feeder_gaps.load(Ordering::Relaxed), 3);
        assert_eq!(f.endpoint_wins[1].load(Ordering::Relaxed), 1);
        assert_eq!(f.endpoint_connected[2].load(Ordering::Relaxed), 1);
        let s = c.signer_block();
        assert_eq!(s.signer_rejected.load(Ordering::Relaxed), 1);
        let code = usize::from(reject_reason::KILL_SWITCH);
        assert_eq!(s.signer_reject_reasons[code].load(Ordering::Relaxed), 1);
        assert_eq!(s.signer_mode.load(Ordering::Acquire), 2);
        assert_eq!(read_str(&s.signer_capture_path), "/tmp/ü/capture.jsonl");
        drop(c);
        remove_all(&instance);
    }

    #[test]
    fn each_writer_maps_only_its_own_segment_writable() {
        let instance = format!("ctlsplit{}", std::process::id());
        let created = Control::create(&instance, &CreateOptions::default()).unwrap();
        let writable = |c: &Control| {
            [
                c.supervisor.segment().writable(),
                c.feeder.segment().writable(),
                c.signer.segment().writable(),
                c.strategy.segment().writable(),
            ]
        };
        assert_eq!(writable(&created), [true; 4]);
        let cases = [
            (Writer::Supervisor, [true, false, false, false]),
            (Writer::Feeder, [false, true, false, false]),
            (Writer::Signer, [false, false, true, false]),
            (Writer::Strategy, [false, false, false, true]),
            (Writer::Reader, [false; 4]),
        ];
        for (writer, expected) in cases {
            let c = Control::attach(&instance, writer).unwrap();
            assert_eq!(writable(&c), expected, "{writer:?}");
        }
        // What the owner writes, a read-only attacher sees.
        let feeder = Control::attach(&instance, Writer::Feeder).unwrap();
        feeder.feeder().heartbeat(42);
        let reader = Control::attach(&instance, Writer::Reader).unwrap();
        assert_eq!(
            reader.feeder_block().hb_feeder_ns.load(Ordering::Relaxed),
            42
        );
        drop((created, feeder, reader));
        remove_all(&instance);
    }

    #[test]
    #[should_panic(expected = "mapped read-only")]
    fn a_view_of_another_writers_segment_is_refused() {
        let instance = format!("ctlpanic{}", std::process::id());
        let created = Control::create(&instance, &CreateOptions::default()).unwrap();
        let signer = Control::attach(&instance, Writer::Signer);
        // Remove before the panic so that nothing is left behind.
        drop(created);
        let signer = signer.unwrap();
        remove_all(&instance);
        let _ = signer.feeder();
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
