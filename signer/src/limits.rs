//! The checks every intent passes before it is signed, and the reason codes of refusals.
//!
//! Pure logic: time, the kill switch, the epoch fence and the blockhash age come in as
//! arguments ([`Context`]), so the rules are tested exhaustively without clocks or shared
//! memory. Nothing here allocates after construction.
//!
//! Checks run in a fixed order and the first failure is the reason reported; the rate,
//! notional and open-intent budgets are consumed only by an intent that passes everything.
//! A refused intent is not remembered: the strategy may retry it (e.g. after a rate refusal).
//! An accepted one can never be accepted again (see [`Refusal::Duplicate`]).

use crate::config::LimitsConfig;
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
    /// `notional_limit`: the per-minute notional limit would be exceeded.
    NotionalLimit = reject_reason::NOTIONAL_LIMIT,
    /// `unsignable`: the route's template cannot take the intent (e.g. no such tick-array
    /// variant, or a tip on a route without a tip account).
    Unsignable = reject_reason::UNSIGNABLE,
}

impl Refusal {
    /// Every reason, in code order.
    pub const ALL: [Refusal; 14] = [
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
    /// CLOCK_MONOTONIC now, ns.
    pub now_ns: u64,
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

const NS_PER_SEC: u64 = 1_000_000_000;
const NOTIONAL_BUCKETS: usize = 61;

/// The limit state of one signer.
#[derive(Clone, Debug)]
pub struct Limits {
    cfg: LimitsConfig,
    blockhash_max_age_ns: u64,
    route_max_amount: Vec<u64>,
    /// Highest tick seq accepted per route (`None`: none yet).
    route_last_tick: Vec<Option<u64>>,
    /// Acceptance times of the last `max_intents_per_second` intents (a ring): the oldest of
    /// them must be at least a second old for another to be accepted, so no 1-second window
    /// ever holds more than the maximum.
    accept_times: Vec<u64>,
    accept_next: usize,
    /// Whether `accept_times` has wrapped (every slot holds a real acceptance time).
    accept_ring_full: bool,
    /// Notional accepted per whole second, for the last [`NOTIONAL_BUCKETS`] seconds.
    notional: [(u64, u64); NOTIONAL_BUCKETS],
    open: u32,
    counts: Counts,
}

/// Upper bound on `max_intents_per_second` (the rate window keeps one timestamp per intent).
pub const MAX_INTENTS_PER_SECOND: u32 = 1_000_000;

impl Limits {
    /// Limits for routes whose maximum first-leg amounts are `route_max_amount` (route id =
    /// index), refusing intents while the blockhash is older than `blockhash_max_age_ms`.
    pub fn new(cfg: &LimitsConfig, route_max_amount: Vec<u64>, blockhash_max_age_ms: u64) -> Self {
        let window = cfg.max_intents_per_second.clamp(1, MAX_INTENTS_PER_SECOND) as usize;
        let routes = route_max_amount.len();
        Limits {
            cfg: cfg.clone(),
            blockhash_max_age_ns: blockhash_max_age_ms.saturating_mul(1_000_000),
            route_max_amount,
            route_last_tick: vec![None; routes],
            accept_times: vec![0; window],
            accept_next: 0,
            accept_ring_full: false,
            notional: [(u64::MAX, 0); NOTIONAL_BUCKETS],
            open: 0,
            counts: Counts::default(),
        }
    }

    /// Checks `intent`; on acceptance it is counted as open until [`Limits::finish`].
    pub fn check(&mut self, intent: &OrderIntent, ctx: &Context) -> Result<(), Refusal> {
        let verdict = self.evaluate(intent, ctx);
        match verdict {
            Ok(()) => {
                self.commit(intent, ctx.now_ns);
                self.counts.accepted += 1;
            }
            Err(r) => self.counts.rejected[r.code() as usize] += 1,
        }
        verdict
    }

    /// Records a refusal decided elsewhere (e.g. [`Refusal::Unsignable`] after an accepted
    /// intent's template refused it): counted, and its open slot released.
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

    fn evaluate(&self, intent: &OrderIntent, ctx: &Context) -> Result<(), Refusal> {
        if ctx.kill_switch {
            return Err(Refusal::KillSwitch);
        }
        if !ctx.fence.admits(intent.epoch, intent.seq) {
            return Err(Refusal::StaleEpoch);
        }
        let route = intent.route_id as usize;
        let Some(&route_max) = self.route_max_amount.get(route) else {
            return Err(Refusal::UnknownRoute);
        };
        if matches!(self.route_last_tick[route], Some(last) if intent.tick_seq <= last) {
            return Err(Refusal::Duplicate);
        }
        let amount = intent.amount_in[0];
        if amount == 0 {
            return Err(Refusal::ZeroAmount);
        }
        if amount > route_max {
            return Err(Refusal::AmountOverRouteMax);
        }
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
        if !self.rate_allows(ctx.now_ns) {
            return Err(Refusal::RateLimited);
        }
        let spent = self.notional_in_window(ctx.now_ns);
        if spent.saturating_add(amount) > self.cfg.max_notional_per_minute_raw {
            return Err(Refusal::NotionalLimit);
        }
        Ok(())
    }

    fn rate_allows(&self, now_ns: u64) -> bool {
        // The slot about to be overwritten holds the oldest of the last `window` acceptances.
        let oldest = self.accept_times[self.accept_next];
        !self.accept_ring_full || now_ns.saturating_sub(oldest) >= NS_PER_SEC
    }

    /// Notional accepted in the current second and the 60 before it: a window of at least a
    /// minute, so no 60-second span ever exceeds the limit.
    fn notional_in_window(&self, now_ns: u64) -> u64 {
        let now_s = now_ns / NS_PER_SEC;
        self.notional
            .iter()
            .filter(|(s, _)| *s != u64::MAX && now_s.saturating_sub(*s) < NOTIONAL_BUCKETS as u64)
            .map(|(_, v)| *v)
            .fold(0u64, u64::saturating_add)
    }

    fn commit(&mut self, intent: &OrderIntent, now_ns: u64) {
        self.route_last_tick[intent.route_id as usize] = Some(intent.tick_seq);
        self.accept_times[self.accept_next] = now_ns;
        self.accept_next = (self.accept_next + 1) % self.accept_times.len();
        self.accept_ring_full |= self.accept_next == 0;
        let now_s = now_ns / NS_PER_SEC;
        let bucket = &mut self.notional[(now_s % NOTIONAL_BUCKETS as u64) as usize];
        if bucket.0 != now_s {
            *bucket = (now_s, 0);
        }
        bucket.1 = bucket.1.saturating_add(intent.amount_in[0]);
        self.open += 1;
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
        }
    }

    fn intent(seq: u64, tick_seq: u64, route_id: u32, amount: u64, now_ns: u64) -> OrderIntent {
        OrderIntent {
            seq,
            epoch: 1,
            tick_seq,
            amount_in: [amount, 0, 0],
            min_out: [0; 3],
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
        let fresh = || Limits::new(&cfg(), vec![500, 500], 1_000);
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
            assert_eq!(l.check(&i, &c), Err(reason), "{}", reason.name());
            assert_eq!(l.counts().rejected[reason.code() as usize], 1);
            assert_eq!(l.open(), 0);
        }
        // The same intents pass when nothing is wrong.
        let mut l = fresh();
        assert_eq!(
            l.check(&intent(0, 0, 0, 500, t - 100_000_000), &ctx(t)),
            Ok(())
        );
    }

    #[test]
    fn duplicates_and_out_of_order_ticks_are_refused_per_route() {
        let t = NS_PER_SEC;
        let mut l = Limits::new(&cfg(), vec![500, 500], 1_000);
        assert_eq!(l.check(&intent(0, 10, 0, 1, t), &ctx(t)), Ok(()));
        assert_eq!(
            l.check(&intent(1, 10, 0, 1, t), &ctx(t)),
            Err(Refusal::Duplicate)
        );
        assert_eq!(
            l.check(&intent(2, 9, 0, 1, t), &ctx(t)),
            Err(Refusal::Duplicate)
        );
        // Another route may act on the same tick.
        assert_eq!(l.check(&intent(3, 10, 1, 1, t), &ctx(t)), Ok(()));
        // A refused intent is not remembered: after the kill switch, the same one passes.
        let killed = Context {
            kill_switch: true,
            ..ctx(t)
        };
        assert_eq!(
            l.check(&intent(4, 11, 0, 1, t), &killed),
            Err(Refusal::KillSwitch)
        );
        assert_eq!(l.check(&intent(4, 11, 0, 1, t), &ctx(t)), Ok(()));
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
        let mut l = Limits::new(&cfg(), vec![500], 1_000);
        for k in 0..3 {
            assert_eq!(l.check(&intent(k, k, 0, 1, t), &ctx(t)), Ok(()));
        }
        assert_eq!(
            l.check(&intent(3, 3, 0, 1, t), &ctx(t)),
            Err(Refusal::TooManyOpen)
        );
        l.finish();
        assert_eq!(l.check(&intent(4, 4, 0, 1, t), &ctx(t)), Ok(()));
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
            let mut l = Limits::new(&c, vec![500, 400], 1_000);
            let mut now = 5 * NS_PER_SEC;
            let mut tick = 0u64;
            let mut accepted: Vec<(u64, u64)> = Vec::new(); // (time, amount)
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
                    Ok(()) => {
                        accepted.push((now, s.amount));
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
            // No 1-second window holds more than the rate; no 60-second window more notional.
            for (k, &(t0, _)) in accepted.iter().enumerate() {
                let in_second = accepted[k..].iter().take_while(|(t, _)| *t < t0 + NS_PER_SEC).count();
                prop_assert!(in_second as u32 <= c.max_intents_per_second);
                let notional: u64 = accepted[k..]
                    .iter()
                    .take_while(|(t, _)| *t < t0 + 60 * NS_PER_SEC)
                    .map(|(_, a)| a)
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
        let mut l = Limits::new(&c, vec![500], 1_000);
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
}
