//! The feeder's output side: the `pools` table, the `market` ring and the feeder's control
//! counters. One publisher per feeder process, on the thread that owns the ring producer.
//!
//! The feeder never blocks on a slow consumer (DESIGN §2): a pool update always lands in
//! the table (its state is never lost); its event on the ring is published if there is room,
//! and otherwise counted as an overflow, and a single `Resync` record is published as soon
//! as room returns, telling the strategy to re-read the whole table.
//!
//! A pool's slot never goes back within one run. An entry left by an earlier run is not a
//! floor, though: the table outlives a feeder, and a slot poisoned before a restart (a lie
//! of slot 2^63 from an older feeder) would otherwise freeze that pool for good. The first
//! state this run publishes for a pool replaces whatever is there (logged when it moves the
//! slot back).

use phantom_ringbuf::clock::monotonic_ns;
use phantom_ringbuf::control::{Control, FeederCounter, Writer};
use phantom_ringbuf::names::segment_name;
use phantom_ringbuf::records::{market_kind, MarketUpdate, PoolState};
use phantom_ringbuf::ring::Producer;
use phantom_ringbuf::segment::SegmentError;
use phantom_ringbuf::table::Table;

/// The feeder's view of an instance's `pools`, `market` and `control` segments.
pub struct Publisher {
    market: Producer<MarketUpdate>,
    pools: Table<PoolState>,
    control: Control,
    /// Events lost to a full ring since the last `Resync` was published.
    resync_pending: bool,
    /// Per pool: written by this run (its slot is a floor); else the entry is an earlier
    /// run's and is replaced whatever its slot.
    written: Vec<bool>,
}

impl Publisher {
    /// Attach to the segments of `instance` (validated against this build's schema).
    pub fn attach(instance: &str) -> Result<Self, SegmentError> {
        let pools = Table::<PoolState>::attach(&segment_name(instance, "pools"), None)?;
        let control = Control::attach(instance, Writer::Feeder)?;
        let market = Producer::<MarketUpdate>::attach(&segment_name(instance, "market"), None)?;
        control.feeder().set_pid(std::process::id());
        let written = vec![false; pools.capacity()];
        Ok(Publisher {
            market,
            pools,
            control,
            resync_pending: false,
            written,
        })
    }

    /// Number of entries in the `pools` table.
    pub fn pool_capacity(&self) -> usize {
        self.pools.capacity()
    }

    /// The control block (counters, heartbeat, run state).
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Refresh the feeder heartbeat (control block and ring header).
    pub fn heartbeat(&self) {
        self.control.feeder().heartbeat(monotonic_ns());
        self.market.heartbeat();
    }

    /// Whether the supervisor asked the instance to stop.
    pub fn stopping(&self) -> bool {
        self.control.stopping()
    }

    /// Current state of pool `id` (a consistent copy).
    pub fn pool(&self, id: usize) -> Option<PoolState> {
        self.pools.read(id)
    }

    /// Store pool `id`'s new state (unless it is from an older slot than the one this run
    /// stored there: then it is refused and counted) and publish a `PoolUpdate` event.
    /// Returns whether the state was applied.
    pub fn publish_pool(
        &mut self,
        id: usize,
        state: &PoolState,
        endpoint: u8,
        t_recv_ns: u64,
    ) -> bool {
        if id >= self.pools.capacity() {
            return false;
        }
        if let Some(current) = self.pools.read(id) {
            if current.ready != 0 && state.last_slot < current.last_slot {
                if self.written[id] {
                    self.control().feeder().add(FeederCounter::StaleSlot, 1);
                    return false;
                }
                tracing::warn!(
                    pool = id,
                    "discarded slot {} left in the pools table by an earlier run (now slot {})",
                    current.last_slot,
                    state.last_slot
                );
            }
        }
        self.written[id] = true;
        let t_pub = monotonic_ns();
        let mut s = *state;
        s.t_recv_ns = t_recv_ns;
        s.t_pub_ns = t_pub;
        s.ready = 1;
        self.pools.write(id, &s);
        let fee_ppm = if s.fee_den == 0 {
            0
        } else {
            (u128::from(s.fee_num) * 1_000_000 / u128::from(s.fee_den)).min(u128::from(u32::MAX))
                as u32
        };
        self.push(MarketUpdate {
            seq: 0,
            slot: s.last_slot,
            t_recv_ns,
            t_pub_ns: t_pub,
            reserve_a: s.reserve_a,
            reserve_b: s.reserve_b,
            pool_id: id as u32,
            fee_ppm,
            kind: market_kind::POOL_UPDATE,
            pool_kind: s.pool_kind,
            endpoint_id: endpoint,
            flags: 0,
            tick_current: s.tick_current,
        });
        true
    }

    /// Publish a `Slot` event.
    pub fn publish_slot(&mut self, slot: u64, endpoint: u8, t_recv_ns: u64) {
        self.push(Self::event(market_kind::SLOT, slot, endpoint, t_recv_ns, 0));
    }

    /// Publish a `Gap` event: endpoint `endpoint`'s connection dropped (`up == false`) or
    /// came back (`up == true`).
    pub fn publish_gap(&mut self, endpoint: u8, up: bool) {
        self.control().feeder().add(FeederCounter::Gaps, 1);
        let t = monotonic_ns();
        self.push(Self::event(market_kind::GAP, 0, endpoint, t, u8::from(up)));
    }

    /// Publish a `Heartbeat` event (the market is quiet but the feeder is alive).
    pub fn publish_heartbeat(&mut self) {
        let t = monotonic_ns();
        self.push(Self::event(market_kind::HEARTBEAT, 0, u8::MAX, t, 0));
    }

    fn event(kind: u8, slot: u64, endpoint: u8, t_recv_ns: u64, flags: u8) -> MarketUpdate {
        MarketUpdate {
            seq: 0,
            slot,
            t_recv_ns,
            t_pub_ns: 0,
            reserve_a: 0,
            reserve_b: 0,
            pool_id: u32::MAX,
            fee_ppm: 0,
            kind,
            pool_kind: 0,
            endpoint_id: endpoint,
            flags,
            tick_current: 0,
        }
    }

    /// Publish `rec` (stamping `seq` and `t_pub_ns`), or count an overflow and owe a
    /// `Resync`. A pending `Resync` goes out first when room returns.
    fn push(&mut self, mut rec: MarketUpdate) {
        if self.resync_pending {
            let resync = Self::event(market_kind::RESYNC, 0, u8::MAX, monotonic_ns(), 0);
            if self.try_push(resync) {
                self.resync_pending = false;
                self.control().feeder().add(FeederCounter::Resyncs, 1);
            }
        }
        if rec.t_pub_ns == 0 {
            rec.t_pub_ns = monotonic_ns();
        }
        if self.resync_pending || !self.try_push(rec) {
            self.resync_pending = true;
            self.market.count_overflow(1);
            self.control().feeder().add(FeederCounter::Overflows, 1);
        }
    }

    fn try_push(&mut self, rec: MarketUpdate) -> bool {
        self.market.try_push_with(|slot, index| {
            let mut r = rec;
            r.seq = index;
            // SAFETY: `slot` is a free slot owned by this producer until published.
            unsafe { slot.write(r) };
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phantom_ringbuf::records::pool_kind;
    use phantom_ringbuf::ring::{self, Consumer};
    use phantom_ringbuf::schema::Record;
    use phantom_ringbuf::segment::{self, CreateOptions};
    use std::sync::atomic::Ordering;

    struct Instance(String);

    impl Instance {
        fn new(tag: &str, market_capacity: u32) -> Self {
            let name = format!("pt{}{tag}", std::process::id());
            let o = CreateOptions::default();
            Control::create(&name, &o).unwrap();
            Table::<PoolState>::create(&segment_name(&name, "pools"), 4, &o).unwrap();
            ring::create::<MarketUpdate>(&segment_name(&name, "market"), market_capacity, &o)
                .unwrap();
            Instance(name)
        }
    }

    impl Drop for Instance {
        fn drop(&mut self) {
            for role in phantom_ringbuf::names::ROLES {
                let _ = segment::remove(&segment_name(&self.0, role));
            }
        }
    }

    fn pool(slot: u64, a: u64) -> PoolState {
        let mut p = PoolState::zeroed();
        p.last_slot = slot;
        p.reserve_a = a;
        p.reserve_b = 2 * a;
        p.fee_num = 25;
        p.fee_den = 10_000;
        p.pool_kind = pool_kind::RAYDIUM_AMM_V4;
        p
    }

    #[test]
    fn updates_land_in_the_table_and_on_the_ring_in_order() {
        let inst = Instance::new("order", 16);
        let mut p = Publisher::attach(&inst.0).unwrap();
        let mut rx =
            Consumer::<MarketUpdate>::attach(&segment_name(&inst.0, "market"), None).unwrap();
        assert!(p.publish_pool(1, &pool(10, 100), 0, 5));
        p.publish_slot(11, 0, 6);
        let u = rx.try_pop().unwrap();
        assert_eq!(
            (u.kind, u.pool_id, u.reserve_a, u.fee_ppm, u.seq),
            (market_kind::POOL_UPDATE, 1, 100, 2500, 0)
        );
        assert!(u.t_pub_ns >= u.t_recv_ns);
        assert_eq!(rx.try_pop().unwrap().kind, market_kind::SLOT);
        let s = p.pool(1).unwrap();
        assert_eq!((s.reserve_a, s.ready, s.t_recv_ns), (100, 1, 5));
    }

    #[test]
    fn an_older_slot_never_overwrites_a_pool() {
        let inst = Instance::new("stale", 16);
        let mut p = Publisher::attach(&inst.0).unwrap();
        assert!(p.publish_pool(0, &pool(10, 100), 0, 1));
        assert!(!p.publish_pool(0, &pool(9, 999), 0, 2));
        assert!(p.publish_pool(0, &pool(10, 101), 0, 3)); // same slot: a real later change
        assert_eq!(p.pool(0).unwrap().reserve_a, 101);
        assert_eq!(
            p.control()
                .feeder_block()
                .feeder_stale_slot
                .load(Ordering::Relaxed),
            1
        );
    }

    #[test]
    fn a_poisoned_slot_left_by_an_earlier_run_is_discarded_on_restart() {
        let inst = Instance::new("poison", 16);
        {
            let mut first_run = Publisher::attach(&inst.0).unwrap();
            assert!(first_run.publish_pool(2, &pool(1 << 63, 7), 0, 1));
            assert!(
                !first_run.publish_pool(2, &pool(300, 8), 0, 2),
                "frozen in that run"
            );
        }
        let mut restarted = Publisher::attach(&inst.0).unwrap();
        assert!(restarted.publish_pool(2, &pool(300, 9), 0, 3));
        assert_eq!(restarted.pool(2).unwrap().last_slot, 300);
        assert!(restarted.publish_pool(2, &pool(301, 10), 0, 4));
        assert!(
            !restarted.publish_pool(2, &pool(299, 11), 0, 5),
            "floor of this run"
        );
        assert_eq!(restarted.pool(2).unwrap().reserve_a, 10);
    }

    #[test]
    fn a_full_ring_loses_events_not_state_and_owes_one_resync() {
        let inst = Instance::new("full", 4);
        let mut p = Publisher::attach(&inst.0).unwrap();
        for i in 0..10u64 {
            p.publish_pool((i % 4) as usize, &pool(100 + i, 1000 + i), 0, i);
        }
        // The table has every pool's latest state.
        for id in 0..4u64 {
            let last = (0..10).filter(|i| i % 4 == id).max().unwrap();
            assert_eq!(p.pool(id as usize).unwrap().reserve_a, 1000 + last);
        }
        assert_eq!(
            p.control()
                .feeder_block()
                .feeder_overflows
                .load(Ordering::Relaxed),
            6
        );
        let mut rx =
            Consumer::<MarketUpdate>::attach(&segment_name(&inst.0, "market"), None).unwrap();
        let mut kinds = Vec::new();
        while let Some(u) = rx.try_pop() {
            kinds.push(u.kind);
        }
        assert_eq!(kinds, vec![market_kind::POOL_UPDATE; 4]);
        // Room again: the next event is preceded by exactly one Resync.
        p.publish_slot(200, 0, 1);
        p.publish_slot(201, 0, 1);
        let got: Vec<u8> = std::iter::from_fn(|| rx.try_pop().map(|u| u.kind)).collect();
        assert_eq!(
            got,
            vec![market_kind::RESYNC, market_kind::SLOT, market_kind::SLOT]
        );
        assert_eq!(
            p.control()
                .feeder_block()
                .feeder_resyncs
                .load(Ordering::Relaxed),
            1
        );
    }
}
