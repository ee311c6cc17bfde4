//! First-arrival-wins across endpoints (DESIGN §2, issue: feeder).
//!
//! The same update can arrive from N endpoints; only the first copy is applied. A copy is
//! identified by (account, slot, hash of the data): an account can change several times
//! within one slot, and each change is a real update, so the slot alone is not enough.
//! Entries older than `horizon_slots` behind the newest slot are forgotten, swept every half
//! horizon (not on every slot: a sweep walks the whole table). The table is also bounded in
//! entries ([`MAX_ENTRIES`]): past it, everything before the newest slot is forgotten, and
//! past it within one slot, everything; a copy arriving after its entry was forgotten is
//! applied again (the same data: the state does not change; a redundant tick is published).
//!
//! This is on the per-frame path, so the table uses the Fx hash (`rustc-hash`; the keys are
//! not attacker-chosen beyond what the endpoints we chose send) and the data hash reads eight
//! bytes at a time.

use rustc_hash::FxHashMap as HashMap;

/// A 64-bit hash of account data, eight bytes per step (multiply-rotate, then a final
/// avalanche): cheap, and collisions only matter within one (account, slot).
pub fn data_hash(data: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = (data.len() as u64).wrapping_mul(K);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h.rotate_left(23) ^ w).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(23) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    phantom_ringbuf::schema::splitmix64(h)
}

/// Most entries remembered (a few tens of bytes each): memory stays bounded at any rate.
pub const MAX_ENTRIES: usize = 1 << 16;

/// Slots remembered by the feeder: copies from other endpoints arrive within a second or
/// two (about 3 s of 400 ms slots).
pub const HORIZON_SLOTS: u64 = 8;

/// What to do with an arriving copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The first copy: apply it.
    First,
    /// Already seen from `winner`, `lag_ns` earlier: drop it (and count it).
    Duplicate {
        /// Endpoint whose copy won.
        winner: u8,
        /// How much later this copy arrived.
        lag_ns: u64,
    },
}

/// The dedupe table.
#[derive(Debug)]
pub struct Dedupe {
    seen: HashMap<(u32, u64, u64), (u8, u64)>,
    newest_slot: u64,
    horizon_slots: u64,
    next_sweep_slot: u64,
}

impl Dedupe {
    /// Remember copies for `horizon_slots` slots.
    pub fn new(horizon_slots: u64) -> Self {
        Dedupe {
            seen: HashMap::default(),
            newest_slot: 0,
            horizon_slots,
            next_sweep_slot: 0,
        }
    }

    /// Judge a copy of `account`'s data at `slot` from `endpoint`, read at `t_recv_ns`.
    pub fn observe(
        &mut self,
        account: u32,
        slot: u64,
        hash: u64,
        endpoint: u8,
        t_recv_ns: u64,
    ) -> Verdict {
        if slot > self.newest_slot {
            self.newest_slot = slot;
            if slot >= self.next_sweep_slot {
                let floor = slot.saturating_sub(self.horizon_slots);
                self.seen.retain(|&(_, s, _), _| s >= floor);
                self.next_sweep_slot = slot + (self.horizon_slots / 2).max(1);
            }
        }
        match self.seen.get(&(account, slot, hash)) {
            Some(&(winner, t_first)) => Verdict::Duplicate {
                winner,
                lag_ns: t_recv_ns.saturating_sub(t_first),
            },
            None => {
                if self.seen.len() >= MAX_ENTRIES {
                    let newest = self.newest_slot;
                    self.seen.retain(|&(_, s, _), _| s >= newest);
                    if self.seen.len() >= MAX_ENTRIES {
                        self.seen.clear();
                    }
                }
                self.seen
                    .insert((account, slot, hash), (endpoint, t_recv_ns));
                Verdict::First
            }
        }
    }

    /// Entries remembered (for tests and status).
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_first_copy_wins_and_later_copies_carry_their_lag() {
        let mut d = Dedupe::new(64);
        let h = data_hash(b"state 1");
        assert_eq!(d.observe(7, 100, h, 1, 1_000), Verdict::First);
        assert_eq!(
            d.observe(7, 100, h, 0, 1_250),
            Verdict::Duplicate {
                winner: 1,
                lag_ns: 250
            }
        );
    }

    #[test]
    fn two_changes_of_an_account_within_one_slot_are_both_real_updates() {
        let mut d = Dedupe::new(64);
        assert_eq!(d.observe(7, 100, data_hash(b"a"), 0, 1), Verdict::First);
        assert_eq!(d.observe(7, 100, data_hash(b"b"), 0, 2), Verdict::First);
        assert_eq!(d.observe(8, 100, data_hash(b"a"), 0, 3), Verdict::First);
    }

    #[test]
    fn old_slots_are_forgotten_but_recent_ones_kept() {
        let mut d = Dedupe::new(10);
        for slot in 0..5000u64 {
            d.observe(1, slot, slot, 0, slot);
        }
        // Swept every 5 slots: at most the horizon plus half of it remain.
        assert!(d.len() <= 10 + 5 + 1, "{}", d.len());
        assert!(matches!(
            d.observe(1, 4999, 4999, 1, 5000),
            Verdict::Duplicate { .. }
        ));
    }

    #[test]
    fn the_data_hash_sees_every_byte_and_the_length() {
        let base = b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_vec();
        let h = data_hash(&base);
        for i in 0..base.len() {
            let mut v = base.clone();
            v[i] ^= 1;
            assert_ne!(data_hash(&v), h, "byte {i}");
        }
        assert_ne!(data_hash(b"a"), data_hash(b"a\0"));
        assert_ne!(data_hash(b""), data_hash(b"\0"));
    }

    #[test]
    fn the_table_stays_bounded_within_one_slot() {
        let mut d = Dedupe::new(HORIZON_SLOTS);
        for k in 0..(3 * MAX_ENTRIES as u64) {
            assert_eq!(d.observe(1, 7, k, 0, k), Verdict::First);
            assert!(d.len() <= MAX_ENTRIES);
        }
        // Recent copies are still caught.
        let last = 3 * MAX_ENTRIES as u64 - 1;
        assert!(matches!(
            d.observe(1, 7, last, 1, 0),
            Verdict::Duplicate { .. }
        ));
    }

    proptest! {
        /// Whatever the interleaving of N endpoints, each distinct update is applied once.
        #[test]
        fn each_distinct_update_is_applied_exactly_once(
            updates in proptest::collection::vec((0u32..4, 0u64..8, 0u64..3), 1..60),
            copies in 1usize..4,
        ) {
            let mut d = Dedupe::new(1_000);
            let mut applied = std::collections::HashSet::new();
            let mut t = 0u64;
            for e in 0..copies {
                for &(acc, slot, h) in &updates {
                    t += 1;
                    if d.observe(acc, slot, h, e as u8, t) == Verdict::First {
                        prop_assert!(applied.insert((acc, slot, h)), "applied twice");
                    }
                }
            }
            let distinct: std::collections::HashSet<_> = updates.iter().copied().collect();
            prop_assert_eq!(applied, distinct);
        }
    }
}
