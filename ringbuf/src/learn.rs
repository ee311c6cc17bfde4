//! The learned spin window of the `adaptive` wait (issue 16).
//!
//! A consumer that finds its ring empty can spin (burning its core, and on a shared core
//! delaying whoever else could run there) hoping the next record arrives soon, or sleep on the
//! futex and pay a wake-up when it does. Which is cheaper depends on the traffic: with records
//! 500 µs apart a fixed 20 µs spin is pure waste and the consumer is asleep for every record
//! anyway; with records in bursts a few µs apart, sleeping between them costs a wake-up each.
//!
//! [`GapLearner`] keeps a decaying histogram of the *gaps* the consumer waited (from finding
//! the ring empty to finding a record; a timed-out wait counts as a long gap) in power-of-two
//! buckets, and after each gap chooses the spin window `W` that minimises the expected cost
//!
//! ```text
//! cost(W) = Σ_{gap ≤ W} gap  +  Σ_{gap > W} (W + wake_cost)
//! ```
//!
//! (the ski-rental trade-off), over `W ∈ {0, 1, 2, 4, …, 32 µs}` capped by `max_spin_ns`.
//! `wake_cost` is what a futex sleep and wake-up cost, in latency and CPU together
//! ([`learned_default::WAKE_COST_NS`]). A quiet ring learns `W = 0`: it sleeps at once and
//! costs nothing while idle.
//!
//! The numba twin (`ringops.learn_gap`, `ringops.learned_window`) keeps the same histogram in
//! the ring end's state array; the tests compare the two on the same gaps.

crate::named_consts! {
    /// The learned wait's parameters.
    pub mod learned_default: u64 {
        /// Longest spin window it may choose, ns.
        MAX_SPIN_NS = 32_768,
        /// Cost of a futex sleep + wake-up (latency and CPU), ns: 17–80 µs on the 2-core VMs
        /// measured (issue 16), a few µs on bare metal.
        WAKE_COST_NS = 20_000,
        /// Futex timeout per sleep, ns.
        SLEEP_NS = 100_000_000,
        /// Histogram buckets: gaps < 1, 2, 4, … 64 µs, and the rest.
        BUCKETS = 8,
        /// The smallest bucket's upper bound, ns.
        BASE_NS = 1_024,
        /// Each new gap first scales every count by 1 − 2^-DECAY_SHIFT.
        DECAY_SHIFT = 5,
        /// One observation's weight (fixed point).
        ONE = 65_536,
    }
}

const NB: usize = learned_default::BUCKETS as usize;

/// The histogram bucket of a gap of `gap_ns`.
#[inline]
pub const fn gap_bucket(gap_ns: u64) -> usize {
    let mut k = 0;
    while k < NB - 1 && gap_ns >= (learned_default::BASE_NS << k) {
        k += 1;
    }
    k
}

/// The spin window (ns) that minimises the expected cost over `hist` (see the module docs).
pub fn learned_window(hist: &[u64; NB], max_spin_ns: u64, wake_cost_ns: u64) -> u64 {
    let mut best_w = 0u64;
    let mut best_cost = u128::MAX;
    // Candidate j: spin while the gap is in buckets < j, i.e. W = BASE << (j - 1).
    for j in 0..NB {
        let w = if j == 0 {
            0
        } else {
            learned_default::BASE_NS << (j - 1)
        };
        if w > max_spin_ns {
            break;
        }
        let mut cost = 0u128;
        for (k, &c) in hist.iter().enumerate() {
            let per = if k < j {
                // A gap that ends inside the window: spun for it (three quarters of the
                // bucket's bound stands for the bucket).
                (learned_default::BASE_NS << k) * 3 / 4
            } else {
                w + wake_cost_ns
            };
            cost += c as u128 * per as u128;
        }
        if cost < best_cost {
            best_cost = cost;
            best_w = w;
        }
    }
    best_w
}

/// A consumer's gap histogram and its current spin window.
#[derive(Debug, Clone, Default)]
pub struct GapLearner {
    hist: [u64; NB],
    window_ns: u64,
}

impl GapLearner {
    /// No gaps seen: window 0 (sleep at once) until there are.
    pub const fn new() -> Self {
        GapLearner {
            hist: [0; NB],
            window_ns: 0,
        }
    }

    /// The spin window to use now, ns.
    #[inline]
    pub fn window_ns(&self) -> u64 {
        self.window_ns
    }

    /// The histogram (fixed-point counts per bucket).
    pub fn histogram(&self) -> &[u64; NB] {
        &self.hist
    }

    /// Record a waited gap and choose the window again.
    pub fn observe(&mut self, gap_ns: u64, max_spin_ns: u64, wake_cost_ns: u64) {
        for c in &mut self.hist {
            *c -= *c >> learned_default::DECAY_SHIFT;
        }
        self.hist[gap_bucket(gap_ns)] += learned_default::ONE;
        self.window_ns = learned_window(&self.hist, max_spin_ns, wake_cost_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_of_the_base() {
        assert_eq!(gap_bucket(0), 0);
        assert_eq!(gap_bucket(1023), 0);
        assert_eq!(gap_bucket(1024), 1);
        assert_eq!(gap_bucket(2047), 1);
        assert_eq!(gap_bucket(2048), 2);
        assert_eq!(gap_bucket(65_535), 6);
        assert_eq!(gap_bucket(65_536), 7);
        assert_eq!(gap_bucket(u64::MAX), 7);
    }

    #[test]
    fn long_gaps_learn_to_sleep_at_once() {
        let mut l = GapLearner::new();
        for _ in 0..100 {
            l.observe(500_000, 32_768, 20_000);
        }
        assert_eq!(l.window_ns(), 0);
    }

    #[test]
    fn short_gaps_learn_to_spin_across_them() {
        let mut l = GapLearner::new();
        for _ in 0..100 {
            l.observe(3_000, 32_768, 20_000);
        }
        // 3 µs is in the < 4 µs bucket: a 4 µs window covers it.
        assert_eq!(l.window_ns(), 4_096);
    }

    #[test]
    fn bimodal_gaps_spin_across_the_burst_only() {
        // Bursts 1.5 µs apart, one record in four after a long silence: spin across the
        // burst gaps (2 µs), sleep through the silences.
        let mut l = GapLearner::new();
        for i in 0..400 {
            l.observe(if i % 4 == 3 { 400_000 } else { 1_500 }, 32_768, 20_000);
        }
        assert_eq!(l.window_ns(), 2_048);
    }

    #[test]
    fn the_window_never_exceeds_the_cap() {
        // 6 µs gaps need an 8 µs window: allowed under an 8 µs cap, not under a 4 µs one
        // (a window that ends before the gaps do only adds its spin to every wake-up).
        let mut l = GapLearner::new();
        for _ in 0..100 {
            l.observe(6_000, 8_192, 20_000);
        }
        assert_eq!(l.window_ns(), 8_192);
        let mut l = GapLearner::new();
        for _ in 0..100 {
            l.observe(6_000, 4_096, 20_000);
        }
        assert_eq!(l.window_ns(), 0);
    }

    #[test]
    fn old_traffic_is_forgotten() {
        let mut l = GapLearner::new();
        for _ in 0..200 {
            l.observe(3_000, 32_768, 20_000);
        }
        assert_eq!(l.window_ns(), 4_096);
        for _ in 0..200 {
            l.observe(1_000_000, 32_768, 20_000);
        }
        assert_eq!(l.window_ns(), 0);
    }
}
