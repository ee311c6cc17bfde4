//! The checks every intent passes before it is signed, and the reason codes of refusals.
//!
//! Pure logic: time, the kill switch, the epoch fence and the blockhash age come in as
//! arguments ([`Context`]), so the rules are tested exhaustively without clocks or shared
//! memory. Nothing here allocates after construction.
//!
//! Checks run in a fixed order and the first failure is the reason reported; the rate,
//! notional, lamport and open-intent budgets are consumed only by an intent that passes
//! everything. A refused intent is not remembered: the strategy may retry it (e.g. after a
//! rate refusal). An accepted one can never be accepted again (see [`Refusal::Duplicate`]).
//!
//! **Route rules** ([`RouteRules`], checked on every leg, 0-based): every used leg has
//! `amount_in > 0`; every used swap leg has `min_out > 0`; leg 0 sells at most the route's
//! `max_amount_in_raw`; leg k ≥ 1 sells at most what leg k−1 guarantees (its `min_out`, or
//! the amount of an `spl_transfer` leg); fields of legs the route does not have, and the
//! `min_out` of a transfer leg, are zero; on a cyclic route the last guarantee is at least
//! `amount_in[0] + min_profit_raw`; with `min_out_per_in_ppm` it is at least
//! `amount_in[0] * ppm / 10^6`. So a signed cyclic trade loses at most its lamport cost.
//!
//! **Windows** (rate, notional per route, lamports per minute and per day) are kept on the
//! wall clock ([`Context::wall_ns`]) so that the ledger can rebuild them after a restart.

use crate::config::{LimitsConfig, RouteConfig};
use crate::programs::ProgramKind;
use phantom_ringbuf::records::{reject_reason, OrderIntent};

/// Why an intent was refused: the `reason` of its `ExecReport`. Codes and names are the
/// shared schema's ([`reject_reason`], exported to Python too); this enum only gives them a
/// type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Refusal {
    /// `kill_switch`: the kill switch is on (control block or file).
    KillSwitch = reject_reason::KILL_SWITCH,
    /// `stale_epoch`: the intent's strategy epoch is neither the current one nor the
    /// outgoing one below its handover bound (DESIGN §5).
    StaleEpoch = reject_reason::STALE_EPOCH,
    /// `duplicate`: the route already accepted an intent for this tick or a later one, so
    /// this is a repeat of (tick seq, route) or arrives out of order.
    Duplicate = reject_reason::DUPLICATE,
    /// `unknown_route`: no route has this id.
    UnknownRoute = reject_reason::UNKNOWN_ROUTE,
    /// `zero_amount`: the first leg's amount in is zero.
    ZeroAmount = reject_reason::ZERO_AMOUNT,
    /// `amount_over_route_max`: the first leg's amount in exceeds the route's maximum.
    AmountOverRouteMax = reject_reason::AMOUNT_OVER_ROUTE_MAX,
    /// `cu_price_too_high`: compute-unit price above the configured maximum.
    CuPriceTooHigh = reject_reason::CU_PRICE_TOO_HIGH,
    /// `tip_too_high`: Jito tip above the configured maximum.
    TipTooHigh = reject_reason::TIP_TOO_HIGH,
    /// `tick_too_old`: the tick behind the intent was received too long ago.
    TickTooOld = reject_reason::TICK_TOO_OLD,
    /// `blockhash_too_old`: no recent blockhash fresh enough to sign with.
    BlockhashTooOld = reject_reason::BLOCKHASH_TOO_OLD,
    /// `too_many_open`: the maximum of accepted, unfinished intents is reached.
    TooManyOpen = reject_reason::TOO_MANY_OPEN,
    /// `rate_limited`: the intents-per-second limit is reached.
    RateLimited = reject_reason::RATE_LIMITED,
    /// `notional_limit`: the route's per-minute notional limit would be exceeded.
    NotionalLimit = reject_reason::NOTIONAL_LIMIT,
    /// `unsignable`: the route's template cannot take the intent (e.g. no such tick-array
    /// variant, or a tip on a route without a tip account).
    Unsignable = reject_reason::UNSIGNABLE,
    /// `leg_amount_zero`: a used leg after the first has amount in zero.
    LegAmountZero = reject_reason::LEG_AMOUNT_ZERO,
    /// `leg_min_out_zero`: a used swap leg has min out zero.
    LegMinOutZero = reject_reason::LEG_MIN_OUT_ZERO,
    /// `leg_chain_exceeds_min_out`: a leg sells more than the previous leg guarantees.
    LegChainExceedsMinOut = reject_reason::LEG_CHAIN_EXCEEDS_MIN_OUT,
    /// `unused_leg_nonzero`: a field of a leg the route lacks (or a transfer's min out) is
    /// set.
    UnusedLegNonzero = reject_reason::UNUSED_LEG_NONZERO,
    /// `cycle_below_min_profit`: a cyclic route's last guarantee is below
    /// `amount_in[0] + min_profit_raw`.
    CycleBelowMinProfit = reject_reason::CYCLE_BELOW_MIN_PROFIT,
    /// `below_min_price`: the last guarantee is below the route's `min_out_per_in_ppm`.
    BelowMinPrice = reject_reason::BELOW_MIN_PRICE,
    /// `lamport_budget_minute`: the cost would exceed the per-minute lamport budget.
    LamportBudgetMinute = reject_reason::LAMPORT_BUDGET_MINUTE,
    /// `lamport_budget_day`: the cost would exceed the per-day lamport budget.
    LamportBudgetDay = reject_reason::LAMPORT_BUDGET_DAY,
}

impl Refusal {
    /// Every reason, in code order.
    pub const ALL: [Refusal; 22] = [
        Refusal::KillSwitch,
        Refusal::StaleEpoch,
        Refusal::Duplicate,
        Refusal::UnknownRoute,
        Refusal::ZeroAmount,
        Refusal::AmountOverRouteMax,
        Refusal::CuPriceTooHigh,
        Refusal::TipTooHigh,
        Refusal::TickTooOld,
        Refusal::BlockhashTooOld,
        Refusal::TooManyOpen,
        Refusal::RateLimited,
        Refusal::NotionalLimit,
        Refusal::Unsignable,
        Refusal::LegAmountZero,
        Refusal::LegMinOutZero,
        Refusal::LegChainExceedsMinOut,
        Refusal::UnusedLegNonzero,
        Refusal::CycleBelowMinProfit,
        Refusal::BelowMinPrice,
        Refusal::LamportBudgetMinute,
        Refusal::LamportBudgetDay,
    ];

    /// The code in `ExecReport.reason`.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The documented name (the key in `status --json`'s `rejected`), from the shared schema.
    pub fn name(self) -> &'static str {
        reject_reason::name(self.code()).unwrap_or("unknown")
    }

    /// The reason with this code.
    pub fn from_code(code: u8) -> Option<Refusal> {
        Refusal::ALL.iter().copied().find(|r| r.code() == code)
    }
}

/// The strategy lease as the control block shows it (DESIGN §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpochFence {
    /// `lease_epoch`: the current strategy's epoch.
    pub current_epoch: u64,
    /// `handover_epoch`: the epoch that stepped down last.
    pub handover_epoch: u64,
    /// `handover_intent_end`: intents of `handover_epoch` with seq below this are honoured.
    pub handover_intent_end: u64,
}

impl EpochFence {
    /// Whether an intent of `epoch` with intent seq `seq` may be executed.
    pub fn admits(&self, epoch: u64, seq: u64) -> bool {
        epoch == self.current_epoch
            || (epoch == self.handover_epoch && seq < self.handover_intent_end)
    }
}

/// What the signer knows at the moment it checks an intent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// CLOCK_MONOTONIC now, ns (tick and blockhash ages).
    pub now_ns: u64,
    /// CLOCK_REALTIME now, ns since the Unix epoch (the rolling windows, which the ledger
    /// carries across restarts).
    pub wall_ns: u64,
    /// Kill switch state (control block or file).
    pub kill_switch: bool,
    /// The lease.
    pub fence: EpochFence,
    /// Age of the freshest recent blockhash, ns; `None` before the first fetch.
    pub blockhash_age_ns: Option<u64>,
}

/// Accepted and refused intents, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Intents accepted.
    pub accepted: u64,
    /// Intents refused, indexed by reason code (index 0 unused).
    pub rejected: [u64; 32],
}

impl Counts {
    /// All refusals.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
}

/// Lamports per signature (the base fee); a transaction of a route has one signature.
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;
/// Signatures of every transaction the signer builds (templates refuse extra signers).
pub const SIGNATURES_PER_TRANSACTION: u64 = 1;

/// Lamports a signed transaction commits: `5000 × signatures + ceil(compute_unit_limit ×
/// cu_price / 10^6) + tip`. A transaction that fails on chain still pays the first two.
pub fn cost_lamports(compute_unit_limit: u32, cu_price_micro_lamports: u64, tip: u64) -> u64 {
    let priority =
        (u128::from(compute_unit_limit) * u128::from(cu_price_micro_lamports)).div_ceil(1_000_000);
    let total = u128::from(LAMPORTS_PER_SIGNATURE * SIGNATURES_PER_TRANSACTION)
        + priority
        + u128::from(tip);
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// The rules of one route, from its config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteRules {
    /// `max_amount_in_raw`: leg 0's largest amount in.
    pub max_amount_in_raw: u64,
    /// Legs the route has (1 to 3).
    pub legs: usize,
    /// Per used leg: a swap (has a `min_out`) or an `spl_transfer` (moves exactly its
    /// amount, has no `min_out`).
    pub swap: [bool; 3],
    /// The last leg pays into the first leg's source account.
    pub cyclic: bool,
    /// `min_profit_raw` (cyclic routes).
    pub min_profit_raw: u64,
    /// `min_out_per_in_ppm`, the worst price accepted.
    pub min_out_per_in_ppm: Option<u64>,
    /// `compute_unit_limit` (the lamport cost).
    pub compute_unit_limit: u32,
}

impl RouteRules {
    /// The rules of a validated route.
    pub fn of(route: &RouteConfig) -> Self {
        let mut swap = [false; 3];
        for (j, leg) in route.legs.iter().take(3).enumerate() {
            swap[j] = leg.kind() != ProgramKind::SplTransfer;
        }
        RouteRules {
            max_amount_in_raw: route.max_amount_in_raw,
            legs: route.legs.len().clamp(1, 3),
            swap,
            cyclic: route.is_cyclic(),
            min_profit_raw: route.min_profit_raw,
            min_out_per_in_ppm: route.min_out_per_in_ppm,
            compute_unit_limit: route.compute_unit_limit,
        }
    }

    /// What leg `k` (used) guarantees to the next: its `min_out`, or a transfer's amount.
    fn guaranteed(&self, intent: &OrderIntent, k: usize) -> u64 {
        if self.swap[k] {
            intent.min_out[k]
        } else {
            intent.amount_in[k]
        }
    }

    /// Checks the intent's amounts against the route's rules (see the module doc); the
    /// order of the checks decides which reason is reported.
    pub fn check_legs(&self, intent: &OrderIntent) -> Result<(), Refusal> {
        let n = self.legs;
        for k in 0..n {
            if intent.amount_in[k] == 0 {
                return Err(if k == 0 {
                    Refusal::ZeroAmount
                } else {
                    Refusal::LegAmountZero
                });
            }
            if self.swap[k] && intent.min_out[k] == 0 {
                return Err(Refusal::LegMinOutZero);
            }
        }
        if intent.amount_in[0] > self.max_amount_in_raw {
            return Err(Refusal::AmountOverRouteMax);
        }
        for k in 1..n {
            if intent.amount_in[k] > self.guaranteed(intent, k - 1) {
                return Err(Refusal::LegChainExceedsMinOut);
            }
        }
        for k in 0..3 {
            let unused_amount = k >= n && intent.amount_in[k] != 0;
            let unused_min_out = (k >= n || !self.swap[k]) && intent.min_out[k] != 0;
            if unused_amount || unused_min_out {
                return Err(Refusal::UnusedLegNonzero);
            }
        }
        let last = u128::from(self.guaranteed(intent, n - 1));
        let first = u128::from(intent.amount_in[0]);
        if self.cyclic && last < first + u128::from(self.min_profit_raw) {
            return Err(Refusal::CycleBelowMinProfit);
        }
        if let Some(ppm) = self.min_out_per_in_ppm {
            if last * 1_000_000 < first * u128::from(ppm) {
                return Err(Refusal::BelowMinPrice);
            }
        }
        Ok(())
    }

    /// Lamports an intent on this route commits when signed.
    pub fn cost(&self, intent: &OrderIntent) -> u64 {
        cost_lamports(
            self.compute_unit_limit,
            intent.cu_price_micro_lamports,
            intent.tip_lamports,
        )
    }
}

const NS_PER_SEC: u64 = 1_000_000_000;
/// One-second buckets of the minute windows: the current second and the 60 before it, so
/// the window is at least a minute and no 60-second span exceeds a limit.
const MINUTE_BUCKETS: usize = 61;
/// One-minute buckets of the day window: the current minute and the 1440 before it.
const DAY_BUCKETS: usize = 1441;
const NS_PER_MINUTE: u64 = 60 * NS_PER_SEC;

/// A rolling sum over `N` buckets of `width_ns`, keyed by bucket number, with a running
/// total so that reading it costs O(1) amortised on the hot path.
#[derive(Clone, Debug)]
struct Window<const N: usize> {
    width_ns: u64,
    buckets: Box<[(u64, u64); N]>,
    /// Sum of the buckets still held.
    total: u64,
    /// Every bucket numbered below this has been removed from `total`.
    horizon: u64,
}

impl<const N: usize> Window<N> {
    fn new(width_ns: u64) -> Self {
        Window {
            width_ns,
            buckets: Box::new([(u64::MAX, 0); N]),
            total: 0,
            horizon: 0,
        }
    }

    /// Drops the buckets that are `N` or more buckets old at `t_ns`. A clock stepped back
    /// drops nothing: buckets stamped "in the future" keep counting (a limit errs on the
    /// safe side).
    fn expire(&mut self, t_ns: u64) {
        let keep_from = (t_ns / self.width_ns).saturating_sub(N as u64 - 1);
        if keep_from <= self.horizon {
            return;
        }
        if keep_from - self.horizon >= N as u64 {
            // A long gap: look at every slot once.
            for slot in self.buckets.iter_mut() {
                if slot.0 != u64::MAX && slot.0 < keep_from {
                    self.total = self.total.saturating_sub(slot.1);
                    *slot = (u64::MAX, 0);
                }
            }
        } else {
            for b in self.horizon..keep_from {
                let slot = &mut self.buckets[(b % N as u64) as usize];
                if slot.0 == b {
                    self.total = self.total.saturating_sub(slot.1);
                    *slot = (u64::MAX, 0);
                }
            }
        }
        self.horizon = keep_from;
    }

    /// The sum at `t_ns`.
    fn sum(&mut self, t_ns: u64) -> u64 {
        self.expire(t_ns);
        self.total
    }

    /// Adds `v` at `t_ns`; a time already outside the window adds nothing.
    fn add(&mut self, t_ns: u64, v: u64) {
        self.expire(t_ns);
        let b = t_ns / self.width_ns;
        if b < self.horizon {
            return;
        }
        let slot = &mut self.buckets[(b % N as u64) as usize];
        if slot.0 == u64::MAX || slot.0 < b {
            // Empty, or an expired bucket of the same slot (expire() removed it already
            // unless the clock went back); start bucket b.
            if slot.0 != u64::MAX {
                self.total = self.total.saturating_sub(slot.1);
            }
            *slot = (b, 0);
        }
        // slot.0 > b: the clock went back; add to the newer bucket (kept longer, safe).
        slot.1 = slot.1.saturating_add(v);
        self.total = self.total.saturating_add(v);
    }
}

/// An accepted intent as the windows and the dedupe set remember it (what the ledger
/// replays after a restart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commit {
    /// Route id.
    pub route_id: u32,
    /// Tick seq.
    pub tick_seq: u64,
    /// Leg 0's amount in (the route's notional).
    pub amount_in: u64,
    /// Lamports committed.
    pub cost: u64,
    /// Wall-clock time of acceptance, ns.
    pub wall_ns: u64,
}

/// The limit state of one signer.
#[derive(Clone, Debug)]
pub struct Limits {
    cfg: LimitsConfig,
    blockhash_max_age_ns: u64,
    routes: Vec<RouteRules>,
    /// Highest tick seq accepted per route in this run (`None`: none yet).
    route_last_tick: Vec<Option<u64>>,
    /// Acceptance times of the last `max_intents_per_second` intents (a ring): the oldest of
    /// them must be at least a second old for another to be accepted, so no 1-second window
    /// ever holds more than the maximum.
    accept_times: Vec<u64>,
    accept_next: usize,
    /// Whether `accept_times` has wrapped (every slot holds a real acceptance time).
    accept_ring_full: bool,
    /// Notional accepted per route per second, for the last minute.
    notional: Vec<Window<MINUTE_BUCKETS>>,
    lamports_minute: Window<MINUTE_BUCKETS>,
    lamports_day: Window<DAY_BUCKETS>,
    open: u32,
    counts: Counts,
}

/// Upper bound on `max_intents_per_second` (the rate window keeps one timestamp per intent).
pub const MAX_INTENTS_PER_SECOND: u32 = 1_000_000;

impl Limits {
    /// Limits for `routes` (route id = index), refusing intents while the blockhash is older
    /// than `blockhash_max_age_ms`.
    pub fn new(cfg: &LimitsConfig, routes: Vec<RouteRules>, blockhash_max_age_ms: u64) -> Self {
        let window = cfg.max_intents_per_second.clamp(1, MAX_INTENTS_PER_SECOND) as usize;
        let n = routes.len();
        Limits {
            cfg: cfg.clone(),
            blockhash_max_age_ns: blockhash_max_age_ms.saturating_mul(1_000_000),
            routes,
            route_last_tick: vec![None; n],
            accept_times: vec![0; window],
            accept_next: 0,
            accept_ring_full: false,
            notional: vec![Window::new(NS_PER_SEC); n],
            lamports_minute: Window::new(NS_PER_SEC),
            lamports_day: Window::new(NS_PER_MINUTE),
            open: 0,
            counts: Counts::default(),
        }
    }

    /// The rules of route `id`.
    pub fn route(&self, id: u32) -> Option<&RouteRules> {
        self.routes.get(id as usize)
    }

    /// Checks `intent`; on acceptance it is counted as open until [`Limits::finish`] and
    /// its [`Commit`] (for the ledger) is returned.
    pub fn check(&mut self, intent: &OrderIntent, ctx: &Context) -> Result<Commit, Refusal> {
        if let Some(w) = self.notional.get_mut(intent.route_id as usize) {
            w.expire(ctx.wall_ns);
        }
        self.lamports_minute.expire(ctx.wall_ns);
        self.lamports_day.expire(ctx.wall_ns);
        let verdict = self.evaluate(intent, ctx);
        match verdict {
            Ok(commit) => {
                self.apply(&commit);
                self.open += 1;
                self.counts.accepted += 1;
            }
            Err(r) => self.counts.rejected[r.code() as usize] += 1,
        }
        verdict
    }

    /// Records a refusal decided elsewhere (e.g. [`Refusal::Unsignable`] after an accepted
    /// intent's template refused it): counted, and its open slot released. Its windows stay
    /// consumed (erring on the safe side).
    pub fn refuse_accepted(&mut self, reason: Refusal) {
        self.counts.accepted = self.counts.accepted.saturating_sub(1);
        self.counts.rejected[reason.code() as usize] += 1;
        self.finish();
    }

    /// An accepted intent landed, failed, or (dry-run) was signed: it is no longer open.
    pub fn finish(&mut self) {
        self.open = self.open.saturating_sub(1);
    }

    /// Intents accepted and not finished.
    pub fn open(&self) -> u32 {
        self.open
    }

    /// Counters so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Lamports committed in the rolling minute and day at `wall_ns`.
    pub fn committed_lamports(&mut self, wall_ns: u64) -> (u64, u64) {
        (
            self.lamports_minute.sum(wall_ns),
            self.lamports_day.sum(wall_ns),
        )
    }

    /// Replays a commit of an earlier signer of this run (the ledger): the dedupe set, the
    /// rate and the notional windows. Lamports come back through
    /// [`Limits::restore_lamports`], for every run.
    pub fn restore(&mut self, commit: &Commit) {
        self.apply_limits(commit);
    }

    /// Adds `lamports` committed at `wall_ns` to the minute window (`minute`) or the day
    /// window.
    pub fn restore_lamports(&mut self, minute: bool, wall_ns: u64, lamports: u64) {
        if minute {
            self.lamports_minute.add(wall_ns, lamports);
        } else {
            self.lamports_day.add(wall_ns, lamports);
        }
    }

    /// Raises route `route`'s last accepted tick to `tick_seq` (the ledger's dedupe record).
    pub fn restore_last_tick(&mut self, route: u32, tick_seq: u64) {
        if let Some(last) = self.route_last_tick.get_mut(route as usize) {
            *last = Some(last.map_or(tick_seq, |l| l.max(tick_seq)));
        }
    }

    fn evaluate(&self, intent: &OrderIntent, ctx: &Context) -> Result<Commit, Refusal> {
        if ctx.kill_switch {
            return Err(Refusal::KillSwitch);
        }
        if !ctx.fence.admits(intent.epoch, intent.seq) {
            return Err(Refusal::StaleEpoch);
        }
        let route = intent.route_id as usize;
        let Some(rules) = self.routes.get(route) else {
            return Err(Refusal::UnknownRoute);
        };
        if matches!(self.route_last_tick[route], Some(last) if intent.tick_seq <= last) {
            return Err(Refusal::Duplicate);
        }
        rules.check_legs(intent)?;
        if intent.cu_price_micro_lamports > self.cfg.max_compute_unit_price_micro_lamports {
            return Err(Refusal::CuPriceTooHigh);
        }
        if intent.tip_lamports > self.cfg.max_tip_lamports {
            return Err(Refusal::TipTooHigh);
        }
        let tick_age_ns = ctx.now_ns.saturating_sub(intent.t_tick_recv_ns);
        if tick_age_ns > self.cfg.max_tick_age_ms.saturating_mul(1_000_000) {
            return Err(Refusal::TickTooOld);
        }
        match ctx.blockhash_age_ns {
            Some(age) if age <= self.blockhash_max_age_ns => {}
            _ => return Err(Refusal::BlockhashTooOld),
        }
        if self.open >= self.cfg.max_open_intents {
            return Err(Refusal::TooManyOpen);
        }
        if !self.rate_allows(ctx.wall_ns) {
            return Err(Refusal::RateLimited);
        }
        let amount = intent.amount_in[0];
        // The windows were expired to ctx.wall_ns by check().
        let spent = self.notional[route].total;
        if spent.saturating_add(amount) > self.cfg.max_notional_per_minute_raw {
            return Err(Refusal::NotionalLimit);
        }
        let cost = rules.cost(intent);
        let (minute, day) = (self.lamports_minute.total, self.lamports_day.total);
        if minute.saturating_add(cost) > self.cfg.max_lamports_per_minute {
            return Err(Refusal::LamportBudgetMinute);
        }
        if day.saturating_add(cost) > self.cfg.max_lamports_per_day {
            return Err(Refusal::LamportBudgetDay);
        }
        Ok(Commit {
            route_id: intent.route_id,
            tick_seq: intent.tick_seq,
            amount_in: amount,
            cost,
            wall_ns: ctx.wall_ns,
        })
    }

    fn rate_allows(&self, wall_ns: u64) -> bool {
        // The slot about to be overwritten holds the oldest of the last `window` acceptances.
        let oldest = self.accept_times[self.accept_next];
        !self.accept_ring_full || wall_ns.saturating_sub(oldest) >= NS_PER_SEC
    }

    fn apply(&mut self, c: &Commit) {
        self.apply_limits(c);
        self.lamports_minute.add(c.wall_ns, c.cost);
        self.lamports_day.add(c.wall_ns, c.cost);
    }

    fn apply_limits(&mut self, c: &Commit) {
        let route = c.route_id as usize;
        if let Some(last) = self.route_last_tick.get_mut(route) {
            *last = Some(last.map_or(c.tick_seq, |l| l.max(c.tick_seq)));
        }
        self.accept_times[self.accept_next] = c.wall_ns;
        self.accept_next = (self.accept_next + 1) % self.accept_times.len();
        self.accept_ring_full |= self.accept_next == 0;
        if let Some(w) = self.notional.get_mut(route) {
            w.add(c.wall_ns, c.amount_in);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg() -> LimitsConfig {
        LimitsConfig {
            max_intents_per_second: 5,
            max_notional_per_minute_raw: 1_000,
            max_open_intents: 3,
            max_tick_age_ms: 100,
            max_compute_unit_price_micro_lamports: 50,
            max_tip_lamports: 20,
            max_lamports_per_minute: u64::MAX / 4,
            max_lamports_per_day: u64::MAX / 2,
        }
    }

    /// A one-leg swap route, not cyclic, no price floor.
    fn swap_route(max: u64) -> RouteRules {
        RouteRules {
            max_amount_in_raw: max,
            legs: 1,
            swap: [true, false, false],
            cyclic: false,
            min_profit_raw: 0,
            min_out_per_in_ppm: None,
            compute_unit_limit: 200_000,
        }
    }

    fn routes(maxes: &[u64]) -> Vec<RouteRules> {
        maxes.iter().map(|&m| swap_route(m)).collect()
    }

    /// Accepted or the refusal, without the commit.
    fn verdict(r: Result<Commit, Refusal>) -> Result<(), Refusal> {
        r.map(|_| ())
    }

    fn intent(seq: u64, tick_seq: u64, route_id: u32, amount: u64, now_ns: u64) -> OrderIntent {
        OrderIntent {
            seq,
            epoch: 1,
            tick_seq,
            amount_in: [amount, 0, 0],
            min_out: [1, 0, 0],
            cu_price_micro_lamports: 10,
            tip_lamports: 0,
            expected_profit: 0,
            t_tick_recv_ns: now_ns,
            t_tick_pub_ns: now_ns,
            t_strategy_read_ns: now_ns,
            t_intent_ns: now_ns,
            route_id,
            flags: 0,
            tick_array_variant: 0,
            _reserved: [0; 20],
        }
    }

    fn ctx(now_ns: u64) -> Context {
        Context {
            now_ns,
            wall_ns: now_ns,
            kill_switch: false,
            fence: EpochFence {
                current_epoch: 1,
                handover_epoch: 0,
                handover_intent_end: 0,
            },
            blockhash_age_ns: Some(0),
        }
    }

    #[test]
    fn every_schema_reason_has_a_refusal_and_back() {
        assert_eq!(Refusal::ALL.len(), reject_reason::ALL.len());
        for (r, (code, name)) in Refusal::ALL.iter().zip(reject_reason::ALL) {
            assert_eq!((r.code(), r.name()), (code, name));
        }
    }

    #[test]
    fn codes_and_names_are_unique_and_round_trip() {
        let mut codes = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for r in Refusal::ALL {
            assert!(r.code() > 0 && r.code() < 32);
            assert!(codes.insert(r.code()) && names.insert(r.name()));
            assert_eq!(Refusal::from_code(r.code()), Some(r));
        }
        assert_eq!(Refusal::from_code(0), None);
    }

    #[test]
    fn each_check_refuses_with_its_reason() {
        let t = 10 * NS_PER_SEC;
        let fresh = || Limits::new(&cfg(), routes(&[500, 500]), 1_000);
        let cases: Vec<(Refusal, OrderIntent, Context)> = vec![
            (
                Refusal::KillSwitch,
                intent(0, 0, 0, 1, t),
                Context {
                    kill_switch: true,
                    ..ctx(t)
                },
            ),
            (
                Refusal::StaleEpoch,
                OrderIntent {
                    epoch: 7,
                    ..intent(0, 0, 0, 1, t)
                },
                ctx(t),
            ),
            (Refusal::UnknownRoute, intent(0, 0, 2, 1, t), ctx(t)),
            (Refusal::ZeroAmount, intent(0, 0, 0, 0, t), ctx(t)),
            (Refusal::AmountOverRouteMax, intent(0, 0, 0, 501, t), ctx(t)),
            (
                Refusal::CuPriceTooHigh,
                OrderIntent {
                    cu_price_micro_lamports: 51,
                    ..intent(0, 0, 0, 1, t)
                },
                ctx(t),
            ),
            (
                Refusal::TipTooHigh,
                OrderIntent {
                    tip_lamports: 21,
                    ..intent(0, 0, 0, 1, t)
                },
                ctx(t),
            ),
            (
                Refusal::TickTooOld,
                intent(0, 0, 0, 1, t - 100_000_001),
                ctx(t),
            ),
            (
                Refusal::BlockhashTooOld,
                intent(0, 0, 0, 1, t),
                Context {
                    blockhash_age_ns: None,
                    ..ctx(t)
                },
            ),
            (
                Refusal::BlockhashTooOld,
                intent(0, 0, 0, 1, t),
                Context {
                    blockhash_age_ns: Some(1_000_000_001),
                    ..ctx(t)
                },
            ),
        ];
        for (reason, i, c) in cases {
            let mut l = fresh();
            assert_eq!(verdict(l.check(&i, &c)), Err(reason), "{}", reason.name());
            assert_eq!(l.counts().rejected[reason.code() as usize], 1);
            assert_eq!(l.open(), 0);
        }
        // The same intents pass when nothing is wrong.
        let mut l = fresh();
        assert_eq!(
            verdict(l.check(&intent(0, 0, 0, 500, t - 100_000_000), &ctx(t))),
            Ok(())
        );
    }

    #[test]
    fn duplicates_and_out_of_order_ticks_are_refused_per_route() {
        let t = NS_PER_SEC;
        let mut l = Limits::new(&cfg(), routes(&[500, 500]), 1_000);
        assert_eq!(verdict(l.check(&intent(0, 10, 0, 1, t), &ctx(t))), Ok(()));
        assert_eq!(
            verdict(l.check(&intent(1, 10, 0, 1, t), &ctx(t))),
            Err(Refusal::Duplicate)
        );
        assert_eq!(
            verdict(l.check(&intent(2, 9, 0, 1, t), &ctx(t))),
            Err(Refusal::Duplicate)
        );
        // Another route may act on the same tick.
        assert_eq!(verdict(l.check(&intent(3, 10, 1, 1, t), &ctx(t))), Ok(()));
        // A refused intent is not remembered: after the kill switch, the same one passes.
        let killed = Context {
            kill_switch: true,
            ..ctx(t)
        };
        assert_eq!(
            verdict(l.check(&intent(4, 11, 0, 1, t), &killed)),
            Err(Refusal::KillSwitch)
        );
        assert_eq!(verdict(l.check(&intent(4, 11, 0, 1, t), &ctx(t))), Ok(()));
    }

    #[test]
    fn epoch_fence_honours_the_old_epoch_below_its_bound_only() {
        let fence = EpochFence {
            current_epoch: 5,
            handover_epoch: 4,
            handover_intent_end: 100,
        };
        assert!(fence.admits(5, 0));
        assert!(fence.admits(5, 1_000));
        assert!(fence.admits(4, 99));
        assert!(!fence.admits(4, 100));
        assert!(!fence.admits(4, 101));
        assert!(!fence.admits(3, 0));
        assert!(!fence.admits(6, 0));
    }

    #[test]
    fn open_intents_are_capped_until_finished() {
        let t = NS_PER_SEC;
        let mut l = Limits::new(&cfg(), routes(&[500]), 1_000);
        for k in 0..3 {
            assert_eq!(verdict(l.check(&intent(k, k, 0, 1, t), &ctx(t))), Ok(()));
        }
        assert_eq!(
            verdict(l.check(&intent(3, 3, 0, 1, t), &ctx(t))),
            Err(Refusal::TooManyOpen)
        );
        l.finish();
        assert_eq!(verdict(l.check(&intent(4, 4, 0, 1, t), &ctx(t))), Ok(()));
    }

    /// One generated step: an intent some time after the previous one, maybe finishing an
    /// open one first.
    #[derive(Debug, Clone)]
    struct Step {
        gap_ms: u64,
        route: u32,
        amount: u64,
        tick_advance: u64,
        finish: bool,
        kill: bool,
    }

    fn step() -> impl Strategy<Value = Step> {
        (
            0u64..400,
            0u32..3,
            0u64..600,
            0u64..3,
            any::<bool>(),
            prop::bool::weighted(0.05),
        )
            .prop_map(|(gap_ms, route, amount, tick_advance, finish, kill)| Step {
                gap_ms,
                route,
                amount,
                tick_advance,
                finish,
                kill,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn counts_add_up_and_no_limit_is_ever_exceeded(steps in prop::collection::vec(step(), 1..400)) {
            let c = LimitsConfig { max_open_intents: 4, ..cfg() };
            let mut l = Limits::new(&c, routes(&[500, 400]), 1_000);
            let mut now = 5 * NS_PER_SEC;
            let mut tick = 0u64;
            let mut accepted: Vec<(u64, u64, u32)> = Vec::new(); // (time, amount, route)
            let mut open = 0u32;
            for (seq, s) in steps.iter().enumerate() {
                now += s.gap_ms * 1_000_000;
                tick += s.tick_advance;
                if s.finish && open > 0 {
                    l.finish();
                    open -= 1;
                }
                let i = intent(seq as u64, tick, s.route, s.amount, now);
                let context = Context { kill_switch: s.kill, ..ctx(now) };
                match l.check(&i, &context) {
                    Ok(_) => {
                        accepted.push((now, s.amount, s.route));
                        open += 1;
                        prop_assert!(s.amount > 0 && (s.route as usize) < 2);
                    }
                    Err(r) => prop_assert!(Refusal::ALL.contains(&r)),
                }
                prop_assert_eq!(l.open(), open);
                prop_assert!(open <= c.max_open_intents);
            }
            let counts = l.counts();
            prop_assert_eq!(counts.accepted + counts.rejected_total(), steps.len() as u64);
            prop_assert_eq!(counts.accepted, accepted.len() as u64);
            prop_assert_eq!(counts.rejected[0], 0);
            // No 1-second window holds more than the rate; no 60-second window more notional
            // on one route.
            for (k, &(t0, _, route)) in accepted.iter().enumerate() {
                let in_second = accepted[k..].iter().take_while(|(t, _, _)| *t < t0 + NS_PER_SEC).count();
                prop_assert!(in_second as u32 <= c.max_intents_per_second);
                let notional: u64 = accepted[k..]
                    .iter()
                    .take_while(|(t, _, _)| *t < t0 + 60 * NS_PER_SEC)
                    .filter(|(_, _, r)| *r == route)
                    .map(|(_, a, _)| a)
                    .sum();
                prop_assert!(notional <= c.max_notional_per_minute_raw);
            }
        }
    }

    #[test]
    fn a_flood_above_the_rate_is_refused_as_rate_limited() {
        let c = LimitsConfig {
            max_open_intents: 1_000_000,
            max_notional_per_minute_raw: u64::MAX,
            ..cfg()
        };
        let mut l = Limits::new(&c, routes(&[500]), 1_000);
        let start = NS_PER_SEC;
        // 1000 intents over one second: 5 accepted, the rest refused for rate.
        for k in 0..1000u64 {
            let now = start + k * 1_000_000;
            let _ = l.check(&intent(k, k, 0, 1, now), &ctx(now));
        }
        let counts = l.counts();
        assert_eq!(counts.accepted, 5);
        assert_eq!(counts.rejected[Refusal::RateLimited.code() as usize], 995);
        assert_eq!(counts.accepted + counts.rejected_total(), 1000);
    }

    /// A three-leg cyclic route (v4 -> CPMM -> Whirlpool back to the start account).
    fn cyclic3(min_profit_raw: u64) -> RouteRules {
        RouteRules {
            max_amount_in_raw: 1_000_000,
            legs: 3,
            swap: [true, true, true],
            cyclic: true,
            min_profit_raw,
            min_out_per_in_ppm: None,
            compute_unit_limit: 400_000,
        }
    }

    fn legs(amount_in: [u64; 3], min_out: [u64; 3]) -> OrderIntent {
        OrderIntent {
            amount_in,
            min_out,
            ..intent(0, 0, 0, 0, 0)
        }
    }

    #[test]
    fn every_leg_rule_refuses_with_its_reason() {
        let r = cyclic3(10);
        let good = legs([1_000, 990, 980], [995, 985, 1_010]);
        assert_eq!(r.check_legs(&good), Ok(()));
        let cases = [
            (Refusal::ZeroAmount, legs([0, 990, 980], [995, 985, 1_010])),
            (
                Refusal::LegAmountZero,
                legs([1_000, 0, 980], [995, 985, 1_010]),
            ),
            (
                Refusal::LegAmountZero,
                legs([1_000, 990, 0], [995, 985, 1_010]),
            ),
            (
                Refusal::LegMinOutZero,
                legs([1_000, 990, 980], [0, 985, 1_010]),
            ),
            (
                Refusal::LegMinOutZero,
                legs([1_000, 990, 980], [995, 0, 1_010]),
            ),
            (
                Refusal::LegMinOutZero,
                legs([1_000, 990, 980], [995, 985, 0]),
            ),
            (
                Refusal::AmountOverRouteMax,
                legs([1_000_001, 990, 980], [995, 985, 2_000_000]),
            ),
            (
                Refusal::LegChainExceedsMinOut,
                legs([1_000, 996, 980], [995, 985, 1_010]),
            ),
            (
                Refusal::LegChainExceedsMinOut,
                legs([1_000, 990, 986], [995, 985, 1_010]),
            ),
            (
                Refusal::CycleBelowMinProfit,
                legs([1_000, 990, 980], [995, 985, 1_009]),
            ),
        ];
        for (reason, i) in cases {
            assert_eq!(r.check_legs(&i), Err(reason), "{i:?}");
        }
        // The dumping intent of issue 12: leg 1 sells far more than leg 0 guarantees, and
        // at any price.
        let two = RouteRules {
            legs: 2,
            swap: [true, true, false],
            ..cyclic3(0)
        };
        let dump = legs([1_000, 500_000_000_000, 0], [0, 0, 0]);
        assert_eq!(two.check_legs(&dump), Err(Refusal::LegMinOutZero));
        let dump_guarded = legs([1_000, 500_000_000_000, 0], [1, 1, 0]);
        assert_eq!(
            two.check_legs(&dump_guarded),
            Err(Refusal::LegChainExceedsMinOut)
        );
        // Unused legs must be zero, amount and min out alike.
        assert_eq!(
            two.check_legs(&legs([1_000, 990, 1], [995, 1_000, 0])),
            Err(Refusal::UnusedLegNonzero)
        );
        assert_eq!(
            two.check_legs(&legs([1_000, 990, 0], [995, 1_000, 1])),
            Err(Refusal::UnusedLegNonzero)
        );
        assert_eq!(
            two.check_legs(&legs([1_000, 990, 0], [995, 1_000, 0])),
            Ok(())
        );
    }

    #[test]
    fn a_non_cyclic_route_is_held_to_its_worst_price() {
        let r = RouteRules {
            min_out_per_in_ppm: Some(2_500_000), // at least 2.5 out per 1 in
            ..swap_route(u64::MAX)
        };
        assert_eq!(r.check_legs(&legs([1_000, 0, 0], [2_500, 0, 0])), Ok(()));
        assert_eq!(
            r.check_legs(&legs([1_000, 0, 0], [2_499, 0, 0])),
            Err(Refusal::BelowMinPrice)
        );
        // No overflow at the extremes: u64::MAX in at 2.5x needs more than u64 can hold.
        assert_eq!(
            r.check_legs(&legs([u64::MAX, 0, 0], [u64::MAX, 0, 0])),
            Err(Refusal::BelowMinPrice)
        );
        // Without a floor (dry-run only) any positive min out passes.
        assert_eq!(
            swap_route(u64::MAX).check_legs(&legs([1_000, 0, 0], [1, 0, 0])),
            Ok(())
        );
    }

    #[test]
    fn transfer_legs_move_exactly_their_amount_and_have_no_min_out() {
        let transfer = RouteRules {
            swap: [false, false, false],
            ..swap_route(1_000)
        };
        assert_eq!(transfer.check_legs(&legs([10, 0, 0], [0, 0, 0])), Ok(()));
        assert_eq!(
            transfer.check_legs(&legs([10, 0, 0], [1, 0, 0])),
            Err(Refusal::UnusedLegNonzero)
        );
        // swap then transfer: the transfer moves at most what the swap guarantees.
        let swap_then_transfer = RouteRules {
            legs: 2,
            swap: [true, false, false],
            ..swap_route(1_000)
        };
        assert_eq!(
            swap_then_transfer.check_legs(&legs([10, 7, 0], [7, 0, 0])),
            Ok(())
        );
        assert_eq!(
            swap_then_transfer.check_legs(&legs([10, 8, 0], [7, 0, 0])),
            Err(Refusal::LegChainExceedsMinOut)
        );
    }

    #[test]
    fn cost_is_base_fee_plus_rounded_up_priority_fee_plus_tip() {
        assert_eq!(cost_lamports(200_000, 0, 0), 5_000);
        assert_eq!(cost_lamports(200_000, 1_000, 0), 5_000 + 200);
        assert_eq!(cost_lamports(1, 1, 0), 5_001, "a partial lamport rounds up");
        assert_eq!(cost_lamports(300_000, 1_000, 7), 5_307);
        assert_eq!(cost_lamports(1_400_000, u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn the_minute_lamport_budget_is_exhausted_then_refills() {
        let c = LimitsConfig {
            max_intents_per_second: 1_000_000,
            max_open_intents: 1_000_000,
            max_notional_per_minute_raw: u64::MAX,
            max_lamports_per_minute: 52_000, // ten intents at 5 200
            max_lamports_per_day: 104_000,
            max_compute_unit_price_micro_lamports: 1_000,
            ..cfg()
        };
        let mut l = Limits::new(&c, routes(&[500]), 1_000);
        let t = 100 * NS_PER_SEC;
        let mut tick = 0;
        let mut send = |l: &mut Limits, at: u64| {
            tick += 1;
            let mut i = intent(tick, tick, 0, 1, at);
            i.cu_price_micro_lamports = 1_000; // 200 lamports at 200 000 CU
            verdict(l.check(&i, &ctx(at)))
        };
        for k in 0..10 {
            assert_eq!(send(&mut l, t + k), Ok(()), "intent {k}");
        }
        assert_eq!(send(&mut l, t + 10), Err(Refusal::LamportBudgetMinute));
        assert_eq!(l.committed_lamports(t), (52_000, 52_000));
        // 59 s later still inside the window; 61 s later it has rolled.
        assert_eq!(
            send(&mut l, t + 59 * NS_PER_SEC),
            Err(Refusal::LamportBudgetMinute)
        );
        for k in 0..10 {
            assert_eq!(send(&mut l, t + 61 * NS_PER_SEC + k), Ok(()));
        }
        // The day is now full too.
        assert_eq!(
            send(&mut l, t + 200 * NS_PER_SEC),
            Err(Refusal::LamportBudgetDay)
        );
        assert_eq!(l.committed_lamports(t + 200 * NS_PER_SEC), (0, 104_000));
        assert_eq!(
            send(&mut l, t + 24 * 3_600 * NS_PER_SEC + 120 * NS_PER_SEC),
            Ok(())
        );
        let counts = l.counts();
        assert_eq!(
            counts.rejected[Refusal::LamportBudgetMinute.code() as usize],
            2
        );
        assert_eq!(
            counts.rejected[Refusal::LamportBudgetDay.code() as usize],
            1
        );
    }

    #[test]
    fn notional_is_kept_per_route() {
        let c = LimitsConfig {
            max_notional_per_minute_raw: 100,
            max_open_intents: 100,
            ..cfg()
        };
        let mut l = Limits::new(&c, routes(&[100, 100]), 1_000);
        let t = NS_PER_SEC;
        assert_eq!(verdict(l.check(&intent(0, 0, 0, 100, t), &ctx(t))), Ok(()));
        assert_eq!(verdict(l.check(&intent(1, 0, 1, 100, t), &ctx(t))), Ok(()));
        assert_eq!(
            verdict(l.check(&intent(2, 1, 0, 1, t), &ctx(t))),
            Err(Refusal::NotionalLimit)
        );
    }

    #[test]
    fn restored_commits_rebuild_dedupe_and_windows() {
        let c = LimitsConfig {
            max_lamports_per_minute: 10_400,
            max_lamports_per_day: 20_800,
            max_compute_unit_price_micro_lamports: 1_000,
            ..cfg()
        };
        let t = 1_000 * NS_PER_SEC;
        let mut first = Limits::new(&c, routes(&[500]), 1_000);
        let mut i = intent(0, 7, 0, 1, t);
        i.cu_price_micro_lamports = 1_000;
        let commit = first.check(&i, &ctx(t)).expect("accepted");
        assert_eq!(commit.cost, 5_200);
        // Same run: the tick is a duplicate and the minute holds its cost.
        let mut again = Limits::new(&c, routes(&[500]), 1_000);
        again.restore(&commit);
        again.restore_lamports(true, commit.wall_ns, commit.cost);
        again.restore_lamports(false, commit.wall_ns, commit.cost);
        assert_eq!(verdict(again.check(&i, &ctx(t))), Err(Refusal::Duplicate));
        assert_eq!(again.committed_lamports(t), (5_200, 5_200));
        // Another run: ticks start over, but the lamports stay committed.
        let mut next_run = Limits::new(&c, routes(&[500]), 1_000);
        next_run.restore_lamports(true, t, 10_400);
        next_run.restore_lamports(false, t, 10_400);
        assert_eq!(
            verdict(next_run.check(&i, &ctx(t + 2))),
            Err(Refusal::LamportBudgetMinute)
        );
        // The dedupe record alone refuses a tick at or below it.
        let mut deduped = Limits::new(&c, routes(&[500]), 1_000);
        deduped.restore_last_tick(0, 9);
        assert_eq!(verdict(deduped.check(&i, &ctx(t))), Err(Refusal::Duplicate));
    }

    /// Random amounts for a random route: zeros, small values around each other, and huge.
    fn amount() -> impl Strategy<Value = u64> {
        prop_oneof![Just(0u64), 1u64..2_000, Just(u64::MAX), any::<u64>(),]
    }

    fn rules() -> impl Strategy<Value = RouteRules> {
        (
            1usize..=3,
            prop::array::uniform3(prop::bool::weighted(0.8)),
            any::<bool>(),
            0u64..50,
            prop::option::of(1u64..3_000_000),
            1u64..3_000,
        )
            .prop_map(|(n, swap, cyclic, min_profit_raw, ppm, max)| RouteRules {
                max_amount_in_raw: max,
                legs: n,
                swap,
                cyclic,
                min_profit_raw: if cyclic { min_profit_raw } else { 0 },
                min_out_per_in_ppm: ppm,
                compute_unit_limit: 200_000,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4_096, ..ProptestConfig::default() })]

        /// Whatever the amounts, an accepted intent satisfies every route rule, each
        /// re-stated here independently of `check_legs`; and a refusal names a leg rule.
        #[test]
        fn accepted_intents_obey_every_leg_rule(
            r in rules(),
            a in prop::array::uniform3(amount()),
            m in prop::array::uniform3(amount()),
        ) {
            let i = legs(a, m);
            match r.check_legs(&i) {
                Ok(()) => {
                    let n = r.legs;
                    let out = |k: usize| if r.swap[k] { m[k] } else { a[k] };
                    for k in 0..n {
                        prop_assert!(a[k] > 0);
                        prop_assert!(!r.swap[k] || m[k] > 0);
                        prop_assert!(r.swap[k] || m[k] == 0);
                    }
                    for k in n..3 {
                        prop_assert_eq!((a[k], m[k]), (0, 0));
                    }
                    prop_assert!(a[0] <= r.max_amount_in_raw);
                    for (k, &sold) in a.iter().enumerate().take(n).skip(1) {
                        prop_assert!(sold <= out(k - 1));
                    }
                    let last = out(n - 1) as u128;
                    if r.cyclic {
                        prop_assert!(last >= a[0] as u128 + r.min_profit_raw as u128);
                    }
                    if let Some(ppm) = r.min_out_per_in_ppm {
                        prop_assert!(last * 1_000_000 >= a[0] as u128 * ppm as u128);
                    }
                }
                Err(reason) => prop_assert!(matches!(
                    reason,
                    Refusal::ZeroAmount
                        | Refusal::LegAmountZero
                        | Refusal::LegMinOutZero
                        | Refusal::AmountOverRouteMax
                        | Refusal::LegChainExceedsMinOut
                        | Refusal::UnusedLegNonzero
                        | Refusal::CycleBelowMinProfit
                        | Refusal::BelowMinPrice
                )),
            }
        }

        /// No sequence of intents commits more lamports than a budget in any window.
        #[test]
        fn no_window_ever_holds_more_lamports_than_its_budget(
            steps in prop::collection::vec((0u64..3_000, 0u64..20_000, 0u64..3_000), 1..300),
        ) {
            let c = LimitsConfig {
                max_intents_per_second: 1_000_000,
                max_open_intents: 1_000_000,
                max_notional_per_minute_raw: u64::MAX,
                max_tip_lamports: 3_000,
                max_compute_unit_price_micro_lamports: 20_000,
                max_lamports_per_minute: 60_000,
                max_lamports_per_day: 400_000,
                ..cfg()
            };
            let mut l = Limits::new(&c, routes(&[500]), 1_000);
            let mut t = 10 * NS_PER_SEC;
            let mut signed: Vec<(u64, u64)> = Vec::new();
            for (k, (gap_ms, price, tip)) in steps.iter().enumerate() {
                t += gap_ms * 10_000_000; // up to 30 s apart
                let mut i = intent(k as u64, k as u64, 0, 1, t);
                i.cu_price_micro_lamports = *price;
                i.tip_lamports = *tip;
                if let Ok(commit) = l.check(&i, &ctx(t)) {
                    prop_assert_eq!(commit.cost, cost_lamports(200_000, *price, *tip));
                    signed.push((t, commit.cost));
                }
                l.finish();
            }
            for (k, &(t0, _)) in signed.iter().enumerate() {
                let in_window = |span: u64| -> u64 {
                    signed[k..].iter().take_while(|(t, _)| *t < t0 + span).map(|(_, c)| c).sum()
                };
                prop_assert!(in_window(60 * NS_PER_SEC) <= c.max_lamports_per_minute);
                prop_assert!(in_window(86_400 * NS_PER_SEC) <= c.max_lamports_per_day);
            }
        }
    }
}
