//! Bounded slots: an endpoint cannot move the table into the future.
//!
//! An account never goes back in slot ([`crate::pool_state`]), so one update claiming a slot
//! far ahead (2^63, say) would make every later, honest update of that account look older and
//! freeze it. Every slot an endpoint reports (account notifications, slot notifications,
//! refetch answers) is therefore checked here first and accepted only if
//!
//! ```text
//! slot <= max(highest slot the other endpoints had accepted,
//!             this endpoint's highest accepted slot + elapsed since then / 400 ms)
//!         + max_slot_lead
//! ```
//!
//! The second term covers a feeder with one endpoint, which has no peer to compare with: a
//! chain advances one slot per 400 ms at most, so an honest endpoint stays inside the bound
//! however long it was quiet, and a jump of more than `max_slot_lead` slots past what time
//! allows is refused. The first slot anyone reports has nothing to be compared with and sets
//! the basis (documented in docs/guarantees.md).
//!
//! Pure logic and no allocation per call: the caller passes the time.

/// Nominal slot length of the chain: the fastest an honest slot number advances.
pub const SLOT_NS: u64 = 400_000_000;

/// Why a slot was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("slot {slot} is beyond the bound {bound} (max_slot_lead {lead} past the peers' highest slot and this endpoint's last slot advanced by elapsed time)")]
pub struct SlotRefused {
    /// The slot reported.
    pub slot: u64,
    /// The highest slot that would have been accepted.
    pub bound: u64,
    /// `[feeder] max_slot_lead`.
    pub lead: u64,
}

/// The per-endpoint slot bounds of one feeder.
#[derive(Clone, Debug)]
pub struct SlotGuard {
    max_lead: u64,
    /// Per endpoint: its highest accepted slot and when (monotonic ns) it was accepted.
    last: Vec<Option<(u64, u64)>>,
}

impl SlotGuard {
    /// A guard for `endpoints` endpoints allowing `max_lead` slots of lead.
    pub fn new(endpoints: usize, max_lead: u64) -> Self {
        SlotGuard {
            max_lead,
            last: vec![None; endpoints],
        }
    }

    /// The highest slot `endpoint` may report at `now_ns`; `None` while no endpoint has had
    /// a slot accepted (no basis yet: anything is accepted and becomes the basis).
    pub fn bound(&self, endpoint: u8, now_ns: u64) -> Option<u64> {
        let e = endpoint as usize;
        let peers = self
            .last
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != e)
            .filter_map(|(_, l)| l.map(|(slot, _)| slot))
            .max();
        let own = self.last.get(e).copied().flatten().map(|(slot, t)| {
            let elapsed_slots = now_ns.saturating_sub(t) / SLOT_NS;
            slot.saturating_add(elapsed_slots)
        });
        let base = match (peers, own) {
            (Some(p), Some(o)) => p.max(o),
            (p, o) => p.or(o)?,
        };
        Some(base.saturating_add(self.max_lead))
    }

    /// Judge `slot` reported by `endpoint` at `now_ns`; an accepted slot above the
    /// endpoint's highest becomes its new highest.
    pub fn check(&mut self, endpoint: u8, slot: u64, now_ns: u64) -> Result<(), SlotRefused> {
        if let Some(bound) = self.bound(endpoint, now_ns) {
            if slot > bound {
                return Err(SlotRefused {
                    slot,
                    bound,
                    lead: self.max_lead,
                });
            }
        }
        if let Some(last) = self.last.get_mut(endpoint as usize) {
            if last.is_none_or(|(s, _)| slot > s) {
                *last = Some((slot, now_ns));
            }
        }
        Ok(())
    }

    /// The highest slot accepted from any endpoint (0: none yet).
    pub fn highest(&self) -> u64 {
        self.last
            .iter()
            .flatten()
            .map(|&(s, _)| s)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    const S: u64 = 300_000_000;

    #[test]
    fn a_single_lie_is_refused_and_honest_slots_go_on() {
        let mut g = SlotGuard::new(1, 150);
        g.check(0, S, 0).unwrap();
        let e = g.check(0, 1 << 63, 1_000).unwrap_err();
        assert_eq!(
            e,
            SlotRefused {
                slot: 1 << 63,
                bound: S + 150,
                lead: 150
            }
        );
        assert!(e
            .to_string()
            .contains("slot 9223372036854775808 is beyond the bound"));
        g.check(0, S + 1, SLOT_NS).unwrap();
        g.check(0, S + 2, 2 * SLOT_NS).unwrap();
        assert_eq!(g.highest(), S + 2);
    }

    #[test]
    fn the_lead_is_exact_and_elapsed_time_extends_it() {
        let mut g = SlotGuard::new(1, 150);
        g.check(0, S, 0).unwrap();
        assert!(g.check(0, S + 151, SLOT_NS - 1).is_err());
        g.check(0, S + 150, SLOT_NS - 1).unwrap();
        // A quiet minute: the chain moved on by 150 slots, and so does the bound.
        let t = SLOT_NS - 1 + 150 * SLOT_NS;
        g.check(0, S + 300, t).unwrap();
        assert!(g.check(0, S + 451, t).is_err());
    }

    #[test]
    fn a_lagging_peer_does_not_hold_back_an_endpoint_that_is_ahead() {
        let mut g = SlotGuard::new(2, 150);
        g.check(1, S, 0).unwrap();
        g.check(0, S + 150, 0).unwrap(); // within the peer's bound
        g.check(0, S + 290, 0).unwrap(); // within its own
        assert!(g.check(0, S + 441, 0).is_err());
        // The peer's bound is the leader's highest + lead.
        g.check(1, S + 440, 0).unwrap();
        assert!(g.check(1, S + 591, 0).is_err());
    }

    #[test]
    fn a_new_endpoint_is_bounded_by_its_peers() {
        let mut g = SlotGuard::new(3, 10);
        g.check(0, S, 0).unwrap();
        assert_eq!(g.bound(2, 0), Some(S + 10));
        assert!(g.check(2, u64::MAX, 0).is_err());
        assert!(g.check(2, S + 11, 0).is_err());
        g.check(2, S - 5, 0).unwrap(); // behind is fine: the assembler orders it
    }

    #[test]
    fn no_basis_accepts_the_first_slot_and_saturates() {
        let mut g = SlotGuard::new(1, u64::MAX);
        assert_eq!(g.bound(0, 0), None);
        g.check(0, u64::MAX - 1, 0).unwrap();
        assert_eq!(g.bound(0, u64::MAX), Some(u64::MAX));
        g.check(0, u64::MAX, u64::MAX).unwrap();
        // An endpoint index past the configured ones is judged but remembered nowhere.
        let mut g = SlotGuard::new(1, 5);
        g.check(0, 10, 0).unwrap();
        assert!(g.check(7, 16, 0).is_err());
        g.check(7, 15, 0).unwrap();
        assert_eq!(g.highest(), 10);
    }

    fn proptest_config() -> ProptestConfig {
        let mut c = ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        if c.rng_seed == RngSeed::Random {
            c.rng_seed = RngSeed::Fixed(0x510_7A11);
        }
        c
    }

    proptest! {
        #![proptest_config(proptest_config())]

        /// Honest endpoints (each following the chain, at most one slot per 400 ms, with any
        /// delay behind it up to the lead) are never refused, whatever the liars among them
        /// send; and no accepted slot ever exceeds the chain by more than the lead for each
        /// accepted step: an accepted lie is at most `lead` past the truth plus the lies
        /// already accepted from the same endpoint.
        #[test]
        fn honest_endpoints_are_never_refused_and_lies_stay_bounded(
            steps in proptest::collection::vec(
                (0u8..3, 0u64..2_000_000_000, 0u64..150, any::<bool>(), any::<u64>()), 1..200),
            liar in 0u8..4,
        ) {
            let lead = 150;
            let mut g = SlotGuard::new(3, lead);
            let (mut now, start) = (0u64, S);
            let mut accepted_lies = [0u64; 3];
            for (endpoint, dt, behind, lie, lie_slot) in steps {
                now += dt;
                let chain = start + now / SLOT_NS;
                if endpoint == liar && lie {
                    let before = g.bound(endpoint, now);
                    if g.check(endpoint, lie_slot, now).is_ok() {
                        if let Some(b) = before {
                            prop_assert!(lie_slot <= b);
                        }
                        if lie_slot > chain {
                            accepted_lies[endpoint as usize] += 1;
                        }
                    }
                } else {
                    let slot = chain.saturating_sub(behind);
                    prop_assert!(g.check(endpoint, slot, now).is_ok(),
                        "honest slot {} refused (bound {:?})", slot, g.bound(endpoint, now));
                }
                // Without any basis from a liar, nothing ran ahead of the chain past the lead.
                if accepted_lies.iter().all(|&n| n == 0) {
                    prop_assert!(g.highest() <= chain + lead);
                }
            }
        }
    }
}
