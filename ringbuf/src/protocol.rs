//! The SPSC ring protocol (DESIGN §3.2), independent of where the memory lives.
//!
//! The same code runs over a shared-memory segment ([`crate::ring`]) and over loom's model
//! atomics (`tests/loom.rs`). It deals only in indices: callers read or write the slots that
//! the indices name, between the calls here.
//!
//! Orderings, each paired with its partner:
//! * producer `tail.store(Release)` after writing slots — pairs with the consumer's
//!   `tail.load(Acquire)` before reading them: a consumer never reads a half-written slot;
//! * consumer `head.store(Release)` after reading slots — pairs with the producer's
//!   `head.load(Acquire)` before reusing them: a producer never overwrites an unread slot;
//! * the wake handshake is a Dekker pattern (store-buffering): the consumer stores `waiter`
//!   then loads `tail`, the producer stores `tail` then loads `waiter`. A `SeqCst` fence on
//!   each side between its store and its load guarantees at least one of them sees the
//!   other's store, so either the consumer sees the new tail and does not sleep, or the
//!   producer sees the flag and wakes it. Without the fences both may read the old value and
//!   the wake-up is lost until the futex timeout.
//!
//! Indices are u64 that never wrap (2^64 records at 1 G/s is 584 years); the slot of index
//! `i` is `i & (capacity - 1)`.
//!
//! The other side's index is untrusted: the strategy, whose code is untrusted, owns the heads
//! of `market` and `reports` and the tail of `intents`. An index that breaks the ring's
//! invariant (`head <= tail <= head + capacity`) is refused: the producer treats the ring as
//! full, the consumer as empty, each keeps its last good copy, and counts the refusal
//! ([`ProducerCore::index_errors`], [`ConsumerCore::index_errors`]). Neither ever reads or
//! writes outside the slots that the last good indices allow.

use crate::sync::{fence, futex_wait, futex_wake, AtomicU32, AtomicU64, Ordering};

/// The three shared words of a ring. Each lives on its own 128-byte line in the header.
#[derive(Clone, Copy)]
pub struct RingWords<'a> {
    /// Next index the producer writes. Written only by the producer.
    pub tail: &'a AtomicU64,
    /// Next index the consumer reads. Written only by the consumer.
    pub head: &'a AtomicU64,
    /// Futex word: 1 while the consumer is (about to be) asleep.
    pub waiter: &'a AtomicU32,
}

/// Producer-side state, private to the producing process.
#[derive(Debug, Clone)]
pub struct ProducerCore {
    /// Local copy of `tail`: the producer is its only writer.
    tail: u64,
    /// Last `head` seen. Invariant: `cached_head <= head` (head only grows), so the free
    /// space computed from it is never larger than the real one.
    cached_head: u64,
    capacity: u64,
    /// Loads of `head` refused because they broke the ring's invariant.
    index_errors: u64,
}

impl ProducerCore {
    /// Start producing where the shared `tail` says (it survives producer restarts).
    pub fn new(words: RingWords<'_>, capacity: u64) -> Self {
        debug_assert!(capacity.is_power_of_two());
        // Relaxed: only this process writes tail; Acquire on head pairs with the consumer's
        // Release store of head (slots before it have been read).
        let tail = words.tail.load(Ordering::Relaxed);
        let head = words.head.load(Ordering::Acquire);
        let valid = head <= tail && tail - head <= capacity;
        ProducerCore {
            tail,
            // A broken head at start: assume the ring is full until a good one is seen.
            cached_head: if valid {
                head
            } else {
                tail.saturating_sub(capacity)
            },
            capacity,
            index_errors: u64::from(!valid),
        }
    }

    /// Loads of `head` refused so far because they broke the ring's invariant.
    #[inline]
    pub fn index_errors(&self) -> u64 {
        self.index_errors
    }

    /// Next index this producer will write.
    #[inline]
    pub fn tail(&self) -> u64 {
        self.tail
    }

    /// Number of slots that can be written now, up to `want`. Reloads `head` only when the
    /// cached value says there is not enough room.
    #[inline]
    pub fn writable(&mut self, words: RingWords<'_>, want: u64) -> u64 {
        let free = self.capacity - (self.tail - self.cached_head);
        if free >= want {
            return want;
        }
        // Acquire: pairs with the consumer's Release store of head in `ConsumerCore::release`;
        // the slots below head have been read and may be overwritten.
        let head = words.head.load(Ordering::Acquire);
        if head < self.cached_head || head > self.tail {
            // The consumer's index went backwards or past what was published: refused. The
            // ring counts as full (the producer never overwrites a slot it cannot prove read).
            self.index_errors += 1;
            return 0;
        }
        self.cached_head = head;
        (self.capacity - (self.tail - self.cached_head)).min(want)
    }

    /// Make `n` written slots visible and wake a sleeping consumer.
    #[inline]
    pub fn publish(&mut self, words: RingWords<'_>, n: u64) {
        debug_assert!(self.tail + n - self.cached_head <= self.capacity);
        self.tail += n;
        // Release: pairs with the consumer's Acquire load of tail in `available`; the slot
        // writes above happen-before the consumer's reads of them.
        words.tail.store(self.tail, Ordering::Release);
        // SeqCst fence: the producer half of the Dekker handshake (module docs). Pairs with
        // the fence in `ConsumerCore::prepare_sleep`.
        fence(Ordering::SeqCst);
        if words.waiter.load(Ordering::Relaxed) != 0 {
            words.waiter.store(0, Ordering::Relaxed);
            futex_wake(words.waiter);
        }
    }
}

/// Consumer-side state, private to the consuming process.
#[derive(Debug, Clone)]
pub struct ConsumerCore {
    /// Local copy of `head`: the consumer is its only writer.
    head: u64,
    /// Last `tail` seen. Invariant: `head <= cached_tail <= tail`.
    cached_tail: u64,
    capacity: u64,
    /// Loads of `tail` refused because they broke the ring's invariant.
    index_errors: u64,
}

impl ConsumerCore {
    /// Start consuming where the shared `head` says (it survives consumer restarts and swaps).
    pub fn new(words: RingWords<'_>, capacity: u64) -> Self {
        let head = words.head.load(Ordering::Relaxed);
        // Acquire: pairs with the producer's Release store of tail.
        let tail = words.tail.load(Ordering::Acquire);
        let valid = tail >= head && tail - head <= capacity;
        ConsumerCore {
            head,
            // A broken tail at start: nothing is readable until a good one is seen.
            cached_tail: if valid { tail } else { head },
            capacity,
            index_errors: u64::from(!valid),
        }
    }

    /// Loads of `tail` refused so far because they broke the ring's invariant.
    #[inline]
    pub fn index_errors(&self) -> u64 {
        self.index_errors
    }

    /// Next index this consumer will read.
    #[inline]
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Records readable now. Reloads `tail` only when the cache says the ring is empty.
    #[inline]
    pub fn available(&mut self, words: RingWords<'_>) -> u64 {
        if self.cached_tail > self.head {
            return self.cached_tail - self.head;
        }
        // Acquire: pairs with the producer's Release store of tail in `publish`.
        let tail = words.tail.load(Ordering::Acquire);
        if tail < self.cached_tail || tail - self.head > self.capacity {
            // The producer's index went backwards or claims more than the ring holds: refused.
            // Nothing is readable (no slot is read that was not proven written).
            self.index_errors += 1;
            return 0;
        }
        self.cached_tail = tail;
        self.cached_tail - self.head
    }

    /// Hand `n` read slots back to the producer.
    #[inline]
    pub fn release(&mut self, words: RingWords<'_>, n: u64) {
        debug_assert!(self.head + n <= self.cached_tail);
        self.head += n;
        // Release: pairs with the producer's Acquire load of head in `writable`; our reads of
        // the slots happen-before the producer's next writes to them.
        words.head.store(self.head, Ordering::Release);
    }

    /// Consumer half of the wake handshake: flag the waiter, then re-check the tail.
    /// Returns true if the ring is still empty and the caller may sleep in [`Self::sleep`].
    #[inline]
    pub fn prepare_sleep(&mut self, words: RingWords<'_>) -> bool {
        words.waiter.store(1, Ordering::Relaxed);
        // SeqCst fence: pairs with the fence in `ProducerCore::publish` (module docs).
        fence(Ordering::SeqCst);
        if self.available(words) > 0 {
            words.waiter.store(0, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Sleep on the futex until woken, the word changes, or `timeout_ns` passes.
    #[inline]
    pub fn sleep(&mut self, words: RingWords<'_>, timeout_ns: u64) {
        futex_wait(words.waiter, 1, timeout_ns);
        words.waiter.store(0, Ordering::Relaxed);
    }
}
