//! Typed SPSC rings over a [`Segment`]: [`Producer`] and [`Consumer`], with single and batch
//! operations and the `spin` / `adaptive` wait strategies of DESIGN §3.2.
//!
//! The protocol itself (orderings, the wake handshake) is in [`crate::protocol`]; this module
//! adds the slots, the types and the waiting.

use crate::clock::monotonic_ns;
use crate::learn::{learned_default, GapLearner};
use crate::protocol::{ConsumerCore, ProducerCore, RingWords};
use crate::records::HEADER_SIZE;
use crate::schema::{Container, Record};
use crate::segment::{CreateOptions, Layout, Result, Segment};
use crate::sync::{spin_hint, yield_now};
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How a consumer waits for records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Busy-poll with a pause instruction. Only for a pinned, isolated core.
    Spin,
    /// Spin for a window learned from the gaps this consumer has waited (see
    /// [`crate::learn`]), at most `max_spin_ns`, then sleep on the shared futex for at most
    /// `sleep_ns` per wait. The `adaptive` of the config files.
    Learned {
        /// Longest spin window it may learn, ns.
        max_spin_ns: u64,
        /// What a futex sleep and wake-up are taken to cost, ns.
        wake_cost_ns: u64,
        /// Futex timeout per sleep.
        sleep_ns: u64,
    },
    /// Spin `spin_iters`, then yield `yield_iters` times, then sleep on the shared futex for
    /// at most `sleep_ns` per wait (the producer wakes it earlier when it publishes). The
    /// fixed policy `adaptive` meant before the learned one; kept for the ring benchmarks.
    Adaptive {
        /// Pause-loop iterations before yielding.
        spin_iters: u32,
        /// sched_yield calls before sleeping.
        yield_iters: u32,
        /// Futex timeout per sleep.
        sleep_ns: u64,
    },
}

crate::named_consts! {
    /// What the adaptive wait does after its `i`-th check that found nothing to read: the
    /// one table of steps both wait loops (this one and numba's `ringops.wait_available`)
    /// take, through [`adaptive_step`] and its numba twin `ringops.adaptive_step`.
    pub mod wait_step: u32 {
        /// A pause instruction, then check again.
        PAUSE = 0,
        /// `sched_yield`, then check again.
        YIELD = 1,
        /// Sleep on the ring's futex (until woken, or the per-sleep timeout), then check.
        SLEEP = 2,
    }
}

crate::named_consts! {
    /// The default adaptive wait: ~20 µs of spinning, a few yields, then 100 ms sleeps.
    pub mod adaptive_default: u64 {
        /// Pause-loop iterations before yielding.
        SPIN_ITERS = 2_000,
        /// sched_yield calls before sleeping.
        YIELD_ITERS = 16,
        /// Futex timeout per sleep.
        SLEEP_NS = 100_000_000,
    }
}

crate::named_consts! {
    /// Wait strategy codes, as the numba side passes them.
    pub mod wait_kind: u32 {
        /// [`WaitStrategy::Spin`].
        SPIN = 0,
        /// [`WaitStrategy::Adaptive`] (fixed spin, then yield, then sleep).
        ADAPTIVE = 1,
        /// [`WaitStrategy::Learned`].
        LEARNED = 2,
    }
}

/// The [`wait_step`] after the `i`-th (0-based) empty check of an adaptive wait that spins
/// `spin_iters` times and yields `yield_iters` times before it sleeps.
pub const fn adaptive_step(i: u64, spin_iters: u32, yield_iters: u32) -> u32 {
    if i < spin_iters as u64 {
        wait_step::PAUSE
    } else if i < spin_iters as u64 + yield_iters as u64 {
        wait_step::YIELD
    } else {
        wait_step::SLEEP
    }
}

impl WaitStrategy {
    /// The default adaptive strategy ([`adaptive_default`]).
    pub const ADAPTIVE: WaitStrategy = WaitStrategy::Adaptive {
        spin_iters: adaptive_default::SPIN_ITERS as u32,
        yield_iters: adaptive_default::YIELD_ITERS as u32,
        sleep_ns: adaptive_default::SLEEP_NS,
    };

    /// The default learned strategy ([`learned_default`]): what `adaptive` means in a
    /// config file.
    pub const LEARNED: WaitStrategy = WaitStrategy::Learned {
        max_spin_ns: learned_default::MAX_SPIN_NS,
        wake_cost_ns: learned_default::WAKE_COST_NS,
        sleep_ns: learned_default::SLEEP_NS,
    };

    /// Parse `spin` or `adaptive` (the config and CLI spelling; `adaptive` is the learned
    /// spin window, [`WaitStrategy::LEARNED`]).
    pub fn parse(s: &str) -> Option<WaitStrategy> {
        match s {
            "spin" => Some(WaitStrategy::Spin),
            "adaptive" => Some(WaitStrategy::LEARNED),
            _ => None,
        }
    }
}

struct RingMap<T: Record> {
    seg: Segment,
    capacity: u64,
    _t: PhantomData<T>,
}

impl<T: Record> RingMap<T> {
    fn new(seg: Segment) -> Self {
        let capacity = seg.header().capacity as u64;
        RingMap {
            seg,
            capacity,
            _t: PhantomData,
        }
    }

    #[inline]
    fn words(&self) -> RingWords<'_> {
        let h = self.seg.header();
        RingWords {
            tail: &h.tail,
            head: &h.head,
            waiter: &h.waiter,
        }
    }

    #[inline]
    fn slot(&self, index: u64) -> *mut T {
        let i = (index & (self.capacity - 1)) as usize;
        // SAFETY: i < capacity; the segment was validated to hold capacity slots of
        // size_of::<T>() bytes after the header, and slots are 64-byte aligned (the header is
        // 4096 bytes, the mapping page aligned, T's size a multiple of 64).
        unsafe { self.seg.as_ptr().add(HEADER_SIZE + i * T::SIZE) as *mut T }
    }
}

/// Create a ring segment for `T`.
pub fn create<T: Record>(name: &str, capacity: u32, opts: &CreateOptions) -> Result<Segment> {
    Segment::create(
        name,
        Container::Ring,
        Layout::of::<T>(Container::Ring),
        capacity,
        opts,
    )
}

/// Attach to ring `name` of `T`, checking its capacity when given.
pub fn attach<T: Record>(name: &str, capacity: Option<u32>) -> Result<Segment> {
    Segment::attach(name, Layout::of::<T>(Container::Ring), capacity)
}

/// One end of a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The producer (writes slots and `tail`).
    Producer,
    /// The consumer (reads slots, writes `head`).
    Consumer,
}

impl End {
    fn words(
        self,
        seg: &Segment,
    ) -> (
        &core::sync::atomic::AtomicU32,
        &core::sync::atomic::AtomicU64,
    ) {
        let h = seg.header();
        match self {
            End::Producer => (&h.producer_pid, &h.producer_start_time),
            End::Consumer => (&h.consumer_pid, &h.consumer_start_time),
        }
    }

    fn name(self) -> &'static str {
        match self {
            End::Producer => "producer",
            End::Consumer => "consumer",
        }
    }
}

/// Claim `end` of ring `seg` for this process. Ring ends are exclusive: while another live
/// process (pid and start time) holds the end, the claim is refused, naming it; a dead
/// holder's end is taken over. `takeover` claims regardless (a strategy that has just taken
/// the lease: the lease, not the pid, says whose turn it is).
pub fn claim(seg: &Segment, end: End, takeover: bool) -> Result<()> {
    let (pid_word, start_word) = end.words(seg);
    let me = std::process::id();
    let my_start = crate::clock::process_start_time(me).unwrap_or(0);
    loop {
        // Acquire: pairs with the Release of a previous claim, so its start time is seen.
        let holder = pid_word.load(Ordering::Acquire);
        if holder != 0 && holder != me && !takeover {
            let started = start_word.load(Ordering::Relaxed);
            let alive = crate::clock::process_start_time(holder)
                .is_some_and(|t| started == 0 || t == started);
            if alive {
                return Err(crate::segment::SegmentError::Invalid {
                    segment: seg.name().to_owned(),
                    what: "ring end",
                    why: format!(
                        "its {} is pid {holder}, still running: a ring has one producer and one \
                         consumer",
                        end.name()
                    ),
                });
            }
        }
        // AcqRel: a claim that wins publishes its start time below (Release on the word).
        if pid_word
            .compare_exchange(holder, me, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            start_word.store(my_start, Ordering::Release);
            return Ok(());
        }
    }
}

/// Give `end` of `seg` back if this process holds it (a clean exit frees it at once).
pub fn release(seg: &Segment, end: End) {
    let (pid_word, start_word) = end.words(seg);
    let me = std::process::id();
    if pid_word.load(Ordering::Acquire) == me {
        start_word.store(0, Ordering::Relaxed);
        let _ = pid_word.compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
    }
}

impl<T: Record> Drop for Producer<T> {
    fn drop(&mut self) {
        release(&self.map.seg, End::Producer);
    }
}

impl<T: Record> Drop for Consumer<T> {
    fn drop(&mut self) {
        release(&self.map.seg, End::Consumer);
    }
}

/// Add the index errors an end counted since it last reported (`*reported`) to the header's
/// `index_errors` (Relaxed: a statistic the supervisor reads on its own).
fn report_index_errors(seg: &Segment, counted: u64, reported: &mut u64) {
    if counted != *reported {
        seg.header()
            .index_errors
            .fetch_add(counted - *reported, Ordering::Relaxed);
        *reported = counted;
    }
}

/// The producing end of a ring. There must be one per ring at a time (DESIGN §5 says how a
/// swap hands it over).
pub struct Producer<T: Record> {
    map: RingMap<T>,
    core: ProducerCore,
    /// Index errors already added to the header's `index_errors`.
    reported_errors: u64,
}

impl<T: Record> Producer<T> {
    /// Become the producer of an attached ring segment.
    pub fn new(seg: Segment) -> Self {
        // A ring this process has just created (or claimed in `attach`): nobody else's.
        let _ = claim(&seg, End::Producer, true);
        let map = RingMap::new(seg);
        let core = ProducerCore::new(map.words(), map.capacity);
        let mut p = Producer {
            map,
            core,
            reported_errors: 0,
        };
        p.report_index_errors();
        p.heartbeat();
        p
    }

    /// Slots writable now, up to `want`; a refused (broken) head is counted in the header.
    #[inline]
    fn writable(&mut self, want: u64) -> u64 {
        let k = self.core.writable(self.map.words(), want);
        if k == 0 {
            self.report_index_errors();
        }
        k
    }

    fn report_index_errors(&mut self) {
        report_index_errors(
            &self.map.seg,
            self.core.index_errors(),
            &mut self.reported_errors,
        );
    }

    /// Attach to ring `name` (validated against `T`) and become its producer.
    pub fn attach(name: &str, capacity: Option<u32>) -> Result<Self> {
        let seg = attach::<T>(name, capacity)?;
        claim(&seg, End::Producer, false)?;
        Ok(Producer::new(seg))
    }

    /// The underlying segment.
    pub fn segment(&self) -> &Segment {
        &self.map.seg
    }

    /// Next index to be written.
    pub fn tail(&self) -> u64 {
        self.core.tail()
    }

    /// Slots free now (up to capacity).
    pub fn free(&mut self) -> u64 {
        let cap = self.map.capacity;
        self.writable(cap)
    }

    /// Push one record; `false` (and nothing written) if the ring is full.
    #[inline]
    pub fn try_push(&mut self, rec: &T) -> bool {
        self.try_push_with(|slot, _| {
            // SAFETY: `slot` is a valid, exclusively-owned slot (see try_push_with).
            unsafe { core::ptr::copy_nonoverlapping(rec, slot, 1) }
        })
    }

    /// Push one record written in place by `fill(slot, index)`; `false` if full.
    #[inline]
    pub fn try_push_with(&mut self, fill: impl FnOnce(*mut T, u64)) -> bool {
        if self.writable(1) == 0 {
            return false;
        }
        let words = self.map.words();
        let idx = self.core.tail();
        // The slot at idx is free (writable said so) and only this producer writes slots.
        fill(self.map.slot(idx), idx);
        self.core.publish(words, 1);
        true
    }

    /// Write up to `n` records in place, `fill(slot, index)` for each, and publish them with
    /// one Release store. Returns how many were written (fewer if the ring is fuller).
    #[inline]
    pub fn push_batch_with(&mut self, n: u64, mut fill: impl FnMut(*mut T, u64)) -> u64 {
        let k = self.writable(n);
        let words = self.map.words();
        let start = self.core.tail();
        for idx in start..start + k {
            fill(self.map.slot(idx), idx);
        }
        if k > 0 {
            self.core.publish(words, k);
        }
        k
    }

    /// Push a slice of records; returns how many fit.
    pub fn push_slice(&mut self, recs: &[T]) -> usize {
        let mut i = 0;
        self.push_batch_with(recs.len() as u64, |slot, _| {
            // SAFETY: slot is free and exclusively ours until published; recs[i] is valid.
            unsafe { core::ptr::copy_nonoverlapping(&recs[i], slot, 1) };
            i += 1;
        }) as usize
    }

    /// Count records that found the ring full (the header's `overflows`).
    pub fn count_overflow(&self, n: u64) {
        self.map
            .seg
            .header()
            .overflows
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Refresh this producer's heartbeat in the header.
    pub fn heartbeat(&self) {
        self.map
            .seg
            .header()
            .producer_heartbeat_ns
            .store(monotonic_ns(), Ordering::Relaxed);
    }
}

/// The consuming end of a ring.
pub struct Consumer<T: Record> {
    map: RingMap<T>,
    core: ConsumerCore,
    /// Index errors already added to the header's `index_errors`.
    reported_errors: u64,
    /// The gaps this consumer has waited, for [`WaitStrategy::Learned`].
    learner: GapLearner,
}

impl<T: Record> Consumer<T> {
    /// Become the consumer of an attached ring segment.
    pub fn new(seg: Segment) -> Self {
        // A ring this process has just created (or claimed in `attach`): nobody else's.
        let _ = claim(&seg, End::Consumer, true);
        let map = RingMap::new(seg);
        let core = ConsumerCore::new(map.words(), map.capacity);
        let mut c = Consumer {
            map,
            core,
            reported_errors: 0,
            learner: GapLearner::new(),
        };
        c.report_index_errors();
        c.heartbeat();
        c
    }

    /// Records readable now; a refused (broken) tail is counted in the header.
    #[inline]
    fn readable(&mut self) -> u64 {
        let n = self.core.available(self.map.words());
        if n == 0 {
            self.report_index_errors();
        }
        n
    }

    fn report_index_errors(&mut self) {
        report_index_errors(
            &self.map.seg,
            self.core.index_errors(),
            &mut self.reported_errors,
        );
    }

    /// Attach to ring `name` (validated against `T`) and become its consumer.
    pub fn attach(name: &str, capacity: Option<u32>) -> Result<Self> {
        let seg = attach::<T>(name, capacity)?;
        claim(&seg, End::Consumer, false)?;
        Ok(Consumer::new(seg))
    }

    /// The underlying segment.
    pub fn segment(&self) -> &Segment {
        &self.map.seg
    }

    /// Next index to be read.
    pub fn head(&self) -> u64 {
        self.core.head()
    }

    /// Records readable now.
    #[inline]
    pub fn available(&mut self) -> u64 {
        self.readable()
    }

    /// Pop one record, if any.
    #[inline]
    pub fn try_pop(&mut self) -> Option<T> {
        if self.readable() == 0 {
            return None;
        }
        let words = self.map.words();
        // SAFETY: the slot at head was published (Acquire load of tail in `available`) and
        // the producer will not touch it until we release it below. T is valid for any bits.
        let rec = unsafe { core::ptr::read(self.map.slot(self.core.head())) };
        self.core.release(words, 1);
        Some(rec)
    }

    /// Read up to `max` records in place, `read(slot, index)` for each, then hand them back
    /// with one Release store. Returns how many were read.
    #[inline]
    pub fn pop_batch_with(&mut self, max: u64, mut read: impl FnMut(&T, u64)) -> u64 {
        let k = self.readable().min(max);
        let words = self.map.words();
        let start = self.core.head();
        for idx in start..start + k {
            // SAFETY: published and not yet released, as in try_pop.
            read(unsafe { &*self.map.slot(idx) }, idx);
        }
        if k > 0 {
            self.core.release(words, k);
        }
        k
    }

    /// Copy up to `max` readable records, `read(slot, index)` for each, without handing
    /// them back: the caller releases each with [`Consumer::release`] once it has acted on
    /// it, so a consumer that dies mid-batch leaves the unfinished ones in the ring for its
    /// successor. Returns how many were read.
    #[inline]
    pub fn peek_batch_with(&mut self, max: u64, mut read: impl FnMut(&T, u64)) -> u64 {
        let k = self.readable().min(max);
        let start = self.core.head();
        for idx in start..start + k {
            // SAFETY: published (Acquire load of tail in `available`) and not yet released,
            // so the producer does not write the slot; T is valid for any bits.
            read(unsafe { &*self.map.slot(idx) }, idx);
        }
        k
    }

    /// Hand the next `n` records back to the producer (after [`Consumer::peek_batch_with`]);
    /// `n` must not exceed the records read and not yet released.
    #[inline]
    pub fn release(&mut self, n: u64) {
        let words = self.map.words();
        let n = n.min(self.core.available(words));
        if n > 0 {
            self.core.release(words, n);
        }
    }

    /// The spin window the learned wait uses now, ns (0: it sleeps at once).
    pub fn learned_window_ns(&self) -> u64 {
        self.learner.window_ns()
    }

    /// Wait until at least one record is readable or `timeout` passes; returns the number
    /// readable (0 on timeout).
    pub fn wait(&mut self, strategy: WaitStrategy, timeout: Duration) -> u64 {
        let n = self.available();
        if n > 0 {
            return n;
        }
        let start = monotonic_ns();
        let deadline = start.saturating_add(timeout.as_nanos() as u64);
        match strategy {
            WaitStrategy::Learned {
                max_spin_ns,
                wake_cost_ns,
                sleep_ns,
            } => {
                let n = self.wait_learned(start, deadline, sleep_ns);
                // A timed-out wait is a long gap: a quiet ring learns to sleep at once.
                let gap = if n > 0 {
                    monotonic_ns().saturating_sub(start)
                } else {
                    u64::MAX
                };
                self.learner.observe(gap, max_spin_ns, wake_cost_ns);
                n
            }
            WaitStrategy::Spin => {
                let mut i = 0u32;
                loop {
                    let n = self.available();
                    if n > 0 {
                        return n;
                    }
                    std::hint::spin_loop();
                    i = i.wrapping_add(1);
                    if i.is_multiple_of(1024) && monotonic_ns() >= deadline {
                        return 0;
                    }
                }
            }
            WaitStrategy::Adaptive {
                spin_iters,
                yield_iters,
                sleep_ns,
            } => {
                let mut i = 0u64;
                loop {
                    let n = self.available();
                    if n > 0 {
                        return n;
                    }
                    match adaptive_step(i, spin_iters, yield_iters) {
                        wait_step::PAUSE => spin_hint(),
                        wait_step::YIELD => yield_now(),
                        _ => break,
                    }
                    i += 1;
                }
                self.sleep_until(deadline, sleep_ns)
            }
        }
    }

    /// The learned wait: spin for the learned window, then sleep (never yields: on a shared
    /// core the sleep hands the core over, and a yield is a system call for nothing).
    fn wait_learned(&mut self, start: u64, deadline: u64, sleep_ns: u64) -> u64 {
        let window = self.learner.window_ns();
        if window > 0 {
            let spin_until = start.saturating_add(window);
            let mut i = 0u32;
            loop {
                let n = self.available();
                if n > 0 {
                    return n;
                }
                spin_hint();
                i = i.wrapping_add(1);
                if i.is_multiple_of(16) && monotonic_ns() >= spin_until {
                    break;
                }
            }
        }
        self.sleep_until(deadline, sleep_ns)
    }

    /// The futex stage of a wait: sleep (handshake first) until a record or `deadline`.
    fn sleep_until(&mut self, deadline: u64, sleep_ns: u64) -> u64 {
        loop {
            let now = monotonic_ns();
            if now >= deadline {
                return self.available();
            }
            let words = self.map.words();
            if !self.core.prepare_sleep(words) {
                return self.available();
            }
            self.heartbeat();
            self.core.sleep(words, sleep_ns.min(deadline - now).max(1));
            let n = self.available();
            if n > 0 {
                return n;
            }
        }
    }

    /// Refresh this consumer's heartbeat in the header.
    pub fn heartbeat(&self) {
        self.map
            .seg
            .header()
            .consumer_heartbeat_ns
            .store(monotonic_ns(), Ordering::Relaxed);
    }
}
