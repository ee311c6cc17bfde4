//! The records that cross the seam (DESIGN §4), and the segment header.
//!
//! Timestamps are CLOCK_MONOTONIC nanoseconds ([`crate::clock::monotonic_ns`]), the same clock
//! in every process, so each hop can be measured by subtraction. u128 quantities (Whirlpool
//! sqrt price and liquidity) are `_lo`/`_hi` u64 pairs: numpy and numba have no u128.
//! Fields whose name starts with `_` are padding or reserved bytes.

use crate::schema::RecordId;
use crate::{named_consts, record};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8};

/// `b"PHNTMRB1"` read as a little-endian u64: the first 8 bytes of every segment.
pub const MAGIC: u64 = u64::from_le_bytes(*b"PHNTMRB1");
/// Bumped on any change of the header or of the ring/table protocol.
pub const ABI_VERSION: u32 = 4;
/// Bytes before the first slot.
pub const HEADER_SIZE: usize = 4096;

record! {
    /// The first 4096 bytes of every segment (DESIGN §3.1). Bytes 0..32 are fixed forever.
    pub struct SegmentHeader(RecordId::SegmentHeader) {
        /// [`MAGIC`].
        pub magic: u64,
        /// [`ABI_VERSION`] of the creator.
        pub abi_version: u32,
        /// [`crate::schema::record_kind`] of the payload.
        pub record_kind: u32,
        /// [`crate::schema::Record::LAYOUT_HASH`] of the payload record.
        pub layout_hash: u64,
        /// Bytes per slot/entry, a multiple of 64.
        pub record_size: u32,
        /// Slots (rings: a power of two) or entries (tables).
        pub capacity: u32,
        /// Always [`HEADER_SIZE`]; slots start here.
        pub header_size: u32,
        /// Pid of the process that created the segment.
        pub creator_pid: u32,
        /// Creator's start time (clock ticks since boot, /proc/PID/stat field 22): with the
        /// pid, identifies the creator even if the pid is reused.
        pub creator_start_time: u64,
        /// Wall-clock creation time (ns since the Unix epoch), for humans.
        pub created_unix_ns: u64,
        /// Total bytes of the segment: header + capacity * record_size.
        pub segment_bytes: u64,
        /// Pid of the process currently producing into the ring (0: none yet).
        pub producer_pid: AtomicU32,
        /// Pid of the process currently consuming (0: none yet).
        pub consumer_pid: AtomicU32,
        /// CLOCK_MONOTONIC ns of the creator's latest heartbeat.
        pub creator_heartbeat_ns: AtomicU64,
        /// CLOCK_MONOTONIC ns of the producer's latest heartbeat.
        pub producer_heartbeat_ns: AtomicU64,
        /// CLOCK_MONOTONIC ns of the consumer's latest heartbeat.
        pub consumer_heartbeat_ns: AtomicU64,
        /// Records the producer could not publish because the ring was full.
        pub overflows: AtomicU64,
        /// 1 if `mlock` succeeded at creation.
        pub mlocked: u32,
        /// Bit 0: created by a test/benchmark (informational).
        pub flags: u32,
        /// Instance name, NUL-padded UTF-8.
        pub instance: [u8; 48],
        /// Segment role within the instance (`market`, `pools`, ...), NUL-padded.
        pub role: [u8; 16],
        /// Rings: loads of the other end's index refused because they broke the ring's
        /// invariant (`head <= tail <= head + capacity`), counted by the end that refused.
        pub index_errors: AtomicU64,
        /// Start time (as `creator_start_time`) of the process in `producer_pid`: with the
        /// pid, tells a live holder of the producing end from a dead one.
        pub producer_start_time: AtomicU64,
        /// Start time of the process in `consumer_pid`.
        pub consumer_start_time: AtomicU64,
        /// Reserved, zero.
        pub _reserved0: [u8; 56],
        /// Rings: next index the producer writes. Own 128-byte line.
        pub tail: AtomicU64,
        /// Padding to the end of the tail line.
        pub _pad_tail: [u8; 120],
        /// Rings: next index the consumer reads. Own 128-byte line.
        pub head: AtomicU64,
        /// Padding to the end of the head line.
        pub _pad_head: [u8; 120],
        /// Rings: futex word, 1 while the consumer sleeps. Own 128-byte line.
        pub waiter: AtomicU32,
        /// Padding to the end of the waiter line.
        pub _pad_waiter: [u8; 124],
        /// Reserved to the end of the header page, zero.
        pub _reserved1: [u8; 3456],
    }
}

/// Byte offset of `tail` in the header.
pub const TAIL_OFFSET: usize = core::mem::offset_of!(SegmentHeader, tail);
/// Byte offset of `head` in the header.
pub const HEAD_OFFSET: usize = core::mem::offset_of!(SegmentHeader, head);
/// Byte offset of `waiter` in the header.
pub const WAITER_OFFSET: usize = core::mem::offset_of!(SegmentHeader, waiter);

const _: () = {
    assert!(core::mem::size_of::<SegmentHeader>() == HEADER_SIZE);
    assert!(core::mem::offset_of!(SegmentHeader, record_kind) == 12);
    assert!(core::mem::offset_of!(SegmentHeader, layout_hash) == 16);
    assert!(core::mem::offset_of!(SegmentHeader, record_size) == 24);
    assert!(core::mem::offset_of!(SegmentHeader, capacity) == 28);
    assert!(TAIL_OFFSET == 256);
    assert!(HEAD_OFFSET == 384);
    assert!(WAITER_OFFSET == 512);
};

named_consts! {
    /// `MarketUpdate.kind` values.
    pub mod market_kind: u8 {
        /// A pool's state changed; `pool_id` names it, the table entry has the full state.
        POOL_UPDATE = 1,
        /// A new slot began (`slot`).
        SLOT = 2,
        /// Events were lost to overload: re-read the whole `pools` table.
        RESYNC = 3,
        /// A feed connection dropped (`flags` bit 0 clear) or came back (bit 0 set).
        GAP = 4,
        /// The feeder is alive; nothing changed.
        HEARTBEAT = 5,
    }
}

named_consts! {
    /// `pool_kind` values.
    pub mod pool_kind: u8 {
        /// Raydium AMM v4 (constant product, priced from two vaults less pnl owed).
        RAYDIUM_AMM_V4 = 1,
        /// Raydium CPMM (constant product, priced from two vaults less fees owed).
        RAYDIUM_CPMM = 2,
        /// Orca Whirlpool (concentrated liquidity: sqrt price, liquidity, tick).
        ORCA_WHIRLPOOL = 3,
    }
}

record! {
    /// One event on the `market` ring (feeder → strategy). 64 bytes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct MarketUpdate(RecordId::MarketUpdate) {
        /// Tick seq: this record's ring index.
        pub seq: u64,
        /// Slot the data is from (the new slot for `SLOT`).
        pub slot: u64,
        /// When the frame carrying it was read off the socket.
        pub t_recv_ns: u64,
        /// When the record was published.
        pub t_pub_ns: u64,
        /// Pool's token-A reserve (net of what the pool owes), raw units; a Whirlpool's virtual
        /// reserve `L / sqrt(P)` within its current tick.
        pub reserve_a: u64,
        /// Pool's token-B reserve (net), raw units; a Whirlpool's virtual `L * sqrt(P)`.
        pub reserve_b: u64,
        /// Index of the pool in `[[pools]]` (and in the `pools` table).
        pub pool_id: u32,
        /// Trade fee in parts per million (the table has the exact fraction).
        pub fee_ppm: u32,
        /// One of [`market_kind`].
        pub kind: u8,
        /// One of [`pool_kind`].
        pub pool_kind: u8,
        /// Feed endpoint whose copy arrived first.
        pub endpoint_id: u8,
        /// Kind-specific flags.
        pub flags: u8,
        /// Whirlpool current tick (0 for constant-product pools).
        pub tick_current: i32,
    }
}

record! {
    /// One entry of the `pools` table (feeder writes, strategy reads), guarded by `seqlock`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PoolState(RecordId::PoolState) {
        /// Seqlock word: odd while the feeder is writing the entry.
        pub seqlock: u64,
        /// Slot of the latest update applied. An update from an older slot is refused.
        pub last_slot: u64,
        /// Token-A reserve: vault balance less what the pool owes (Whirlpool: virtual, `L / sqrt(P)`).
        pub reserve_a: u64,
        /// Token-B reserve: vault balance less what the pool owes (Whirlpool: virtual, `L * sqrt(P)`).
        pub reserve_b: u64,
        /// Raw token-A vault balance.
        pub vault_a_amount: u64,
        /// Raw token-B vault balance.
        pub vault_b_amount: u64,
        /// Token A owed by the pool (e.g. Raydium v4 `need_take_pnl_coin`).
        pub owed_a: u64,
        /// Token B owed by the pool.
        pub owed_b: u64,
        /// Slot of the token-A vault balance.
        pub slot_a: u64,
        /// Slot of the token-B vault balance.
        pub slot_b: u64,
        /// Trade fee numerator.
        pub fee_num: u64,
        /// Trade fee denominator.
        pub fee_den: u64,
        /// Whirlpool sqrt price (Q64.64), low 64 bits.
        pub sqrt_price_lo: u64,
        /// Whirlpool sqrt price, high 64 bits.
        pub sqrt_price_hi: u64,
        /// Whirlpool in-range liquidity, low 64 bits.
        pub liquidity_lo: u64,
        /// Whirlpool liquidity, high 64 bits.
        pub liquidity_hi: u64,
        /// Updates applied to this entry.
        pub updates: u64,
        /// `t_recv_ns` of the latest update.
        pub t_recv_ns: u64,
        /// `t_pub_ns` of the latest update.
        pub t_pub_ns: u64,
        /// Whirlpool current tick.
        pub tick_current: i32,
        /// Whirlpool tick spacing.
        pub tick_spacing: u16,
        /// One of [`pool_kind`].
        pub pool_kind: u8,
        /// Token-A decimals.
        pub decimals_a: u8,
        /// Token-B decimals.
        pub decimals_b: u8,
        /// 1 once the entry holds a complete state.
        pub ready: u8,
        /// Reserved, zero.
        pub _reserved: [u8; 38],
    }
}

named_consts! {
    /// `OrderIntent.flags` bits.
    pub mod intent_flags: u32 {
        /// The strategy asks the signer to simulate rather than send (honoured in live mode).
        SIMULATE = 1,
    }
}

record! {
    /// One order on the `intents` ring (strategy → signer). The strategy names a route the
    /// signer was configured with and the amounts; it never builds a transaction.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct OrderIntent(RecordId::OrderIntent) {
        /// Intent seq: this record's ring index.
        pub seq: u64,
        /// Strategy epoch (lease) that wrote it.
        pub epoch: u64,
        /// Tick seq of the market record that caused it.
        pub tick_seq: u64,
        /// Per-leg input amounts, raw units (unused legs 0).
        pub amount_in: [u64; 3],
        /// Per-leg minimum outputs, raw units.
        pub min_out: [u64; 3],
        /// Compute-unit price, micro-lamports.
        pub cu_price_micro_lamports: u64,
        /// Jito tip, lamports (0: none).
        pub tip_lamports: u64,
        /// Expected profit in the route's input token, raw units (for limits and reports).
        pub expected_profit: i64,
        /// `t_recv_ns` of the tick.
        pub t_tick_recv_ns: u64,
        /// `t_pub_ns` of the tick.
        pub t_tick_pub_ns: u64,
        /// When the strategy read the tick.
        pub t_strategy_read_ns: u64,
        /// When the strategy published this intent.
        pub t_intent_ns: u64,
        /// Index of the route in `[[routes]]`.
        pub route_id: u32,
        /// Bits of [`intent_flags`].
        pub flags: u32,
        /// Whirlpool tick-array variant to use (route-specific; 0 for others).
        pub tick_array_variant: u32,
        /// Reserved, zero.
        pub _reserved: [u8; 20],
    }
}

named_consts! {
    /// `ExecReport.status` values.
    pub mod exec_status: u8 {
        /// Passed every check; queued for signing.
        ACCEPTED = 1,
        /// Refused; `reason` says why.
        REJECTED = 2,
        /// Signed (dry-run stops here).
        SIGNED = 3,
        /// Sent to at least one endpoint.
        SENT = 4,
        /// Confirmed on chain.
        LANDED = 5,
        /// Sent but failed or expired.
        FAILED = 6,
    }
}

/// `ExecReport.reason` values: why the signer refused an intent. Codes are stable and index
/// `SignerBlock.signer_reject_reasons`, so they stay below 32; the names are the keys of
/// `status --json`'s `signer.rejected` and are documented in the README's Signer section.
pub mod reject_reason {
    /// Not refused.
    pub const NONE: u8 = 0;
    /// `kill_switch`: the kill switch is on (control block or file).
    pub const KILL_SWITCH: u8 = 1;
    /// `stale_epoch`: the intent's strategy epoch is neither the current one nor the
    /// outgoing one below its handover bound (DESIGN §5).
    pub const STALE_EPOCH: u8 = 2;
    /// `duplicate`: the route already accepted an intent for this tick or a later one.
    pub const DUPLICATE: u8 = 3;
    /// `unknown_route`: no route has this id.
    pub const UNKNOWN_ROUTE: u8 = 4;
    /// `zero_amount`: the first leg's amount in is zero.
    pub const ZERO_AMOUNT: u8 = 5;
    /// `amount_over_route_max`: the first leg's amount in exceeds the route's maximum.
    pub const AMOUNT_OVER_ROUTE_MAX: u8 = 6;
    /// `cu_price_too_high`: compute-unit price above the configured maximum.
    pub const CU_PRICE_TOO_HIGH: u8 = 7;
    /// `tip_too_high`: Jito tip above the configured maximum.
    pub const TIP_TOO_HIGH: u8 = 8;
    /// `tick_too_old`: the tick behind the intent was received too long ago.
    pub const TICK_TOO_OLD: u8 = 9;
    /// `blockhash_too_old`: no recent blockhash fresh enough to sign with (or none yet).
    pub const BLOCKHASH_TOO_OLD: u8 = 10;
    /// `too_many_open`: the maximum of accepted, unfinished intents is reached.
    pub const TOO_MANY_OPEN: u8 = 11;
    /// `rate_limited`: the intents-per-second limit is reached.
    pub const RATE_LIMITED: u8 = 12;
    /// `notional_limit`: the per-minute notional limit would be exceeded.
    pub const NOTIONAL_LIMIT: u8 = 13;
    /// `unsignable`: the route's template cannot take the intent (no such tick-array
    /// variant, or a tip on a route without a tip account).
    pub const UNSIGNABLE: u8 = 14;
    /// `leg_amount_zero`: a used leg after the first has amount in zero.
    pub const LEG_AMOUNT_ZERO: u8 = 15;
    /// `leg_min_out_zero`: a used swap leg has min out zero (it would sell at any price).
    pub const LEG_MIN_OUT_ZERO: u8 = 16;
    /// `leg_chain_exceeds_min_out`: a leg sells more than the previous leg guarantees
    /// (`amount_in[k] > min_out[k-1]`).
    pub const LEG_CHAIN_EXCEEDS_MIN_OUT: u8 = 17;
    /// `unused_leg_nonzero`: an amount or min out is set on a leg the route does not have
    /// (or a min out on an `spl_transfer` leg, which has none).
    pub const UNUSED_LEG_NONZERO: u8 = 18;
    /// `cycle_below_min_profit`: on a cyclic route, the last leg's min out is below
    /// `amount_in[0] + min_profit_raw`.
    pub const CYCLE_BELOW_MIN_PROFIT: u8 = 19;
    /// `below_min_price`: the last leg's min out is below `amount_in[0]` times the route's
    /// `min_out_per_in_ppm` / 10^6.
    pub const BELOW_MIN_PRICE: u8 = 20;
    /// `lamport_budget_minute`: the intent's cost would exceed `max_lamports_per_minute`.
    pub const LAMPORT_BUDGET_MINUTE: u8 = 21;
    /// `lamport_budget_day`: the intent's cost would exceed `max_lamports_per_day`.
    pub const LAMPORT_BUDGET_DAY: u8 = 22;

    /// Every reason as (code, name), in code order.
    pub const ALL: [(u8, &str); 22] = [
        (KILL_SWITCH, "kill_switch"),
        (STALE_EPOCH, "stale_epoch"),
        (DUPLICATE, "duplicate"),
        (UNKNOWN_ROUTE, "unknown_route"),
        (ZERO_AMOUNT, "zero_amount"),
        (AMOUNT_OVER_ROUTE_MAX, "amount_over_route_max"),
        (CU_PRICE_TOO_HIGH, "cu_price_too_high"),
        (TIP_TOO_HIGH, "tip_too_high"),
        (TICK_TOO_OLD, "tick_too_old"),
        (BLOCKHASH_TOO_OLD, "blockhash_too_old"),
        (TOO_MANY_OPEN, "too_many_open"),
        (RATE_LIMITED, "rate_limited"),
        (NOTIONAL_LIMIT, "notional_limit"),
        (UNSIGNABLE, "unsignable"),
        (LEG_AMOUNT_ZERO, "leg_amount_zero"),
        (LEG_MIN_OUT_ZERO, "leg_min_out_zero"),
        (LEG_CHAIN_EXCEEDS_MIN_OUT, "leg_chain_exceeds_min_out"),
        (UNUSED_LEG_NONZERO, "unused_leg_nonzero"),
        (CYCLE_BELOW_MIN_PROFIT, "cycle_below_min_profit"),
        (BELOW_MIN_PRICE, "below_min_price"),
        (LAMPORT_BUDGET_MINUTE, "lamport_budget_minute"),
        (LAMPORT_BUDGET_DAY, "lamport_budget_day"),
    ];

    /// The documented name of `code`, if it is a reason.
    pub fn name(code: u8) -> Option<&'static str> {
        ALL.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
    }
}

named_consts! {
    /// `ExecReport.error_code` values of `FAILED` reports. Besides these small positive codes,
    /// 100..=599 is the HTTP status an endpoint answered with, and a negative value is the
    /// JSON-RPC error code it returned (e.g. -32002 for a failed preflight).
    pub mod exec_error: i32 {
        /// No error.
        NONE = 0,
        /// No endpoint could be reached (connect, I/O or timeout).
        TRANSPORT = 1,
        /// An endpoint answered with something that is not a JSON-RPC reply.
        BAD_RESPONSE = 2,
        /// Sent, but not seen on chain before the landing timeout.
        EXPIRED = 3,
        /// Landed with a transaction error (the status's `err` was set).
        TRANSACTION_ERROR = 4,
        /// The signer stopped before the transaction's fate was known (it may still land).
        UNKNOWN_AT_STOP = 5,
        /// The signer died after accepting the intent (its write-ahead ledger record was
        /// written; the transaction may have been signed and sent): reported by the restarted
        /// signer, which will not sign it again.
        IN_FLIGHT_AT_RESTART = 6,
    }
}

named_consts! {
    /// `SignerBlock.signer_mode` values.
    pub mod signer_mode: u32 {
        /// Not started (or not announced yet).
        UNKNOWN = 0,
        /// Signs and records, sends nothing.
        DRY_RUN = 1,
        /// Sends to the network.
        LIVE = 2,
        /// Signs and simulates (`simulateTransaction`), sends nothing.
        PREFLIGHT = 3,
    }
}

record! {
    /// One fate of one intent on the `reports` ring (signer → strategy).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ExecReport(RecordId::ExecReport) {
        /// Seq of the intent this reports on.
        pub intent_seq: u64,
        /// Epoch of that intent.
        pub epoch: u64,
        /// Tick seq of that intent.
        pub tick_seq: u64,
        /// Slot it landed in (0 before landing).
        pub slot: u64,
        /// When the signer read the intent.
        pub t_intent_read_ns: u64,
        /// When the transaction was signed.
        pub t_signed_ns: u64,
        /// When it was sent.
        pub t_sent_ns: u64,
        /// When it was seen landed or failed.
        pub t_landed_ns: u64,
        /// First signature of the transaction (ed25519, 64 bytes).
        pub signature: [u8; 64],
        /// Route of the intent.
        pub route_id: u32,
        /// Why a `FAILED` report failed: [`exec_error`], an HTTP status or a JSON-RPC error
        /// code; 0 if none.
        pub error_code: i32,
        /// One of [`exec_status`].
        pub status: u8,
        /// Reject reason code, one of [`reject_reason`] (0: none).
        pub reason: u8,
        /// Reserved, zero.
        pub _reserved: [u8; 46],
    }
}

record! {
    /// The `control` segment's single entry: the supervisor's state, and the two switches
    /// the CLI may flip (kill switch, params). Mapped writable only by the supervisor and
    /// the CLI; the feeder, signer and strategy map it read-only. Every field is an atomic
    /// (arrays too): several processes map it at once, so no field may be reached through a
    /// plain reference while another process writes it.
    pub struct SupervisorBlock(RecordId::SupervisorBlock) {
        /// Supervisor heartbeat (CLOCK_MONOTONIC ns).
        pub hb_supervisor_ns: AtomicU64,
        /// Supervisor pid.
        pub pid_supervisor: AtomicU32,
        /// Kill switch: non-zero stops all signing.
        pub kill_switch: AtomicU32,
        /// 0 running, 1 stopping (drain), 2 stopped.
        pub run_state: AtomicU32,
        /// Params file generation: bumped by `phantom-pipeline params`; the strategy reloads
        /// when it differs from `StrategyBlock.strategy_params_version`.
        pub params_generation: AtomicU32,
        /// Restarts: feeder, signer, strategy (index 3 unused).
        pub restarts: [AtomicU32; 4],
        /// Params file to load at `params_generation`, NUL-padded UTF-8 path.
        pub params_path: [AtomicU8; 256],
    }
}

// SAFETY: every field of SupervisorBlock above is an Atomic* or an array of them.
unsafe impl crate::schema::AtomicRecord for SupervisorBlock {}

record! {
    /// The `feeder` segment's single entry: the feeder's heartbeat and counters. Mapped
    /// writable only by the feeder (and the supervisor that creates it); read-only elsewhere.
    pub struct FeederBlock(RecordId::FeederBlock) {
        /// Feeder heartbeat (CLOCK_MONOTONIC ns).
        pub hb_feeder_ns: AtomicU64,
        /// Feeder pid.
        pub pid_feeder: AtomicU32,
        /// Reserved, zero.
        pub _reserved: AtomicU32,
        /// Notifications received.
        pub feeder_notifications: AtomicU64,
        /// Frames or accounts that failed to parse or decode.
        pub feeder_decode_errors: AtomicU64,
        /// Copies of an update already seen from another endpoint.
        pub feeder_duplicates: AtomicU64,
        /// Updates refused because of an older slot than the pool's last.
        pub feeder_stale_slot: AtomicU64,
        /// Market events lost to a full ring (pool state is never lost).
        pub feeder_overflows: AtomicU64,
        /// `Resync` records published.
        pub feeder_resyncs: AtomicU64,
        /// `Gap` records published.
        pub feeder_gaps: AtomicU64,
        /// Per-endpoint first-arrival wins.
        pub endpoint_wins: [AtomicU64; 8],
        /// Per-endpoint lag behind the winner, last observed (ns).
        pub endpoint_lag_ns: [AtomicU64; 8],
        /// Per endpoint: updates refused for a slot beyond the bound (`[feeder]
        /// max_slot_lead` past the peers' highest or the time-advanced last slot).
        pub endpoint_slot_refused: [AtomicU64; 8],
        /// Per endpoint: accounts refused for an owner other than their program.
        pub endpoint_owner_refused: [AtomicU64; 8],
        /// Per endpoint: connections dropped for a frame over `max_frame_bytes`.
        pub endpoint_frames_too_large: [AtomicU64; 8],
        /// Per endpoint: subscription replies refused (repeated or unknown request).
        pub endpoint_subscription_replies_refused: [AtomicU64; 8],
        /// Per endpoint: refetches that failed or timed out.
        pub endpoint_refetch_failures: [AtomicU64; 8],
        /// Per-endpoint connection state (1 connected).
        pub endpoint_connected: [AtomicU8; 8],
    }
}

// SAFETY: every field of FeederBlock above is an Atomic* or an array of them.
unsafe impl crate::schema::AtomicRecord for FeederBlock {}

record! {
    /// The `signer` segment's single entry: the signer's heartbeat, counters, mode and
    /// budget. Mapped writable only by the signer (and the supervisor that creates it);
    /// read-only elsewhere.
    pub struct SignerBlock(RecordId::SignerBlock) {
        /// Signer heartbeat (CLOCK_MONOTONIC ns).
        pub hb_signer_ns: AtomicU64,
        /// Signer pid.
        pub pid_signer: AtomicU32,
        /// One of [`signer_mode`], announced at start.
        pub signer_mode: AtomicU32,
        /// Intents accepted.
        pub signer_accepted: AtomicU64,
        /// Intents rejected (all reasons).
        pub signer_rejected: AtomicU64,
        /// Rejections per reason code ([`reject_reason`]).
        pub signer_reject_reasons: [AtomicU64; 32],
        /// Transactions signed.
        pub signer_signed: AtomicU64,
        /// Transactions sent.
        pub signer_sent: AtomicU64,
        /// Transactions landed.
        pub signer_landed: AtomicU64,
        /// Transactions failed.
        pub signer_failed: AtomicU64,
        /// Lamports committed (signed) in the rolling minute, as of its last update.
        pub signer_budget_committed_minute: AtomicU64,
        /// Lamports committed in the rolling day (across signer restarts).
        pub signer_budget_committed_day: AtomicU64,
        /// `[signer.limits] max_lamports_per_minute`, announced at start.
        pub signer_budget_limit_minute: AtomicU64,
        /// `[signer.limits] max_lamports_per_day`, announced at start.
        pub signer_budget_limit_day: AtomicU64,
        /// Dry-run capture file, NUL-padded UTF-8 path (empty: none). Written once at start,
        /// before `signer_mode`.
        pub signer_capture_path: [AtomicU8; 256],
    }
}

// SAFETY: every field of SignerBlock above is an Atomic* or an array of them.
unsafe impl crate::schema::AtomicRecord for SignerBlock {}

record! {
    /// The `strategy` segment's single entry: the strategy lease and handover (DESIGN §5),
    /// the strategy's heartbeat and counters. Mapped writable by strategy processes (the
    /// holder and a swap candidate share the lease) and by the supervisor, which records the
    /// pid it started and force-releases the lease of a dead holder; read-only in the feeder
    /// and signer. The epoch fence is a correctness protocol between strategies, not a
    /// security boundary: the signer's limits hold whatever these fields say.
    pub struct StrategyBlock(RecordId::StrategyBlock) {
        /// Current strategy lease epoch.
        pub lease_epoch: AtomicU64,
        /// Epoch of the strategy that stepped down last.
        pub handover_epoch: AtomicU64,
        /// Last tick seq the outgoing strategy consumed (its next tick is this + 1).
        pub handover_last_tick: AtomicU64,
        /// Intent seq bound of the outgoing epoch: intents of `handover_epoch` with
        /// seq < this are honoured, later ones refused.
        pub handover_intent_end: AtomicU64,
        /// Strategy heartbeat (CLOCK_MONOTONIC ns).
        pub hb_strategy_ns: AtomicU64,
        /// Ticks processed (all epochs).
        pub strategy_ticks: AtomicU64,
        /// Ticks skipped across leases (must stay 0).
        pub strategy_ticks_skipped: AtomicU64,
        /// Intents written.
        pub strategy_intents: AtomicU64,
        /// Intents dropped because the intents ring stayed full (signer stalled).
        pub strategy_intents_dropped: AtomicU64,
        /// Params version applied.
        pub strategy_params_version: AtomicU64,
        /// The last params generation it refused (its log says why).
        pub strategy_params_refused: AtomicU64,
        /// When the candidate asked the holder to step down (CLOCK_MONOTONIC ns).
        pub swap_t_request_ns: AtomicU64,
        /// When the holder had stepped down (its last ring write done).
        pub swap_t_released_ns: AtomicU64,
        /// When the candidate took the lease (before its first ring write).
        pub swap_t_acquired_ns: AtomicU64,
        /// Strategy pid.
        pub pid_strategy: AtomicU32,
        /// One of [`lease_state`].
        pub lease_state: AtomicU32,
        /// Pid of the strategy process holding the lease (0: none).
        pub lease_holder_pid: AtomicU32,
        /// Pid of the strategy process asking for the lease in a swap (0: none).
        pub swap_candidate_pid: AtomicU32,
        /// `MODULE:CLASS` of the strategy holding the lease, NUL-padded UTF-8.
        pub strategy_name: [AtomicU8; 96],
    }
}

// SAFETY: every field of StrategyBlock above is an Atomic* or an array of them.
unsafe impl crate::schema::AtomicRecord for StrategyBlock {}

named_consts! {
    /// `StrategyBlock.lease_state` values: the strategy lease of DESIGN §5.
    pub mod lease_state: u32 {
        /// No strategy holds the lease (start-up).
        FREE = 0,
        /// A strategy holds it (`lease_holder_pid`, epoch `lease_epoch`).
        HELD = 1,
        /// A candidate asked the holder to step down after its current record.
        STEP_DOWN_REQUESTED = 2,
        /// The holder stepped down (or was killed and reaped); `handover_*` are valid and no
        /// process of the old epoch will write to a ring again.
        RELEASED = 3,
    }
}

record! {
    /// A 64-byte test record: gapless `seq` and a checksum over the payload, for the
    /// cross-process tests and the ring benchmarks.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct ProbeRecord(RecordId::ProbeRecord) {
        /// Sequence number, gapless from the first record.
        pub seq: u64,
        /// CLOCK_MONOTONIC ns when sent (latency benchmarks).
        pub t_send_ns: u64,
        /// Payload words derived from `seq`.
        pub payload: [u64; 5],
        /// [`ProbeRecord::checksum_of`] of seq and payload.
        pub checksum: u64,
    }
}

impl ProbeRecord {
    /// The payload word `i` of record `seq`.
    #[inline]
    pub fn payload_word(seq: u64, i: u64) -> u64 {
        crate::schema::splitmix64(seq.wrapping_mul(8).wrapping_add(i))
    }

    /// Checksum of seq and payload (xor-rotate, cheap to compute in numba too).
    #[inline]
    pub fn checksum_of(seq: u64, payload: &[u64; 5]) -> u64 {
        let mut c = seq ^ 0x5EED_5EED_5EED_5EED;
        for w in payload {
            c = c.rotate_left(7) ^ w;
        }
        c
    }

    /// The full record for `seq`.
    #[inline]
    pub fn for_seq(seq: u64, t_send_ns: u64) -> Self {
        let payload = core::array::from_fn(|i| Self::payload_word(seq, i as u64));
        ProbeRecord {
            seq,
            t_send_ns,
            payload,
            checksum: Self::checksum_of(seq, &payload),
        }
    }

    /// Whether payload and checksum are those of `self.seq`.
    #[inline]
    pub fn is_valid(&self) -> bool {
        (0..5).all(|i| self.payload[i] == Self::payload_word(self.seq, i as u64))
            && self.checksum == Self::checksum_of(self.seq, &self.payload)
    }
}

/// Every named-constant group the Python side reads, as (group, Python prefix, constants).
/// `phantom_pipeline.constants` defines `PREFIX_NAME` for each (e.g. `MARKET_POOL_UPDATE`),
/// and `_native.constants()` returns them by group; nothing is listed again in Python.
pub const CONSTANT_GROUPS: [crate::schema::ConstantGroup; 7] = [
    ("market_kind", "MARKET", market_kind::NAMES),
    ("pool_kind", "POOL", pool_kind::NAMES),
    ("intent_flags", "INTENT", intent_flags::NAMES),
    ("exec_status", "EXEC", exec_status::NAMES),
    ("exec_error", "EXEC_ERROR", exec_error::NAMES),
    ("signer_mode", "SIGNER_MODE", signer_mode::NAMES),
    ("lease_state", "LEASE", lease_state::NAMES),
];
