//! Model check of the ring protocol with loom: every interleaving (up to a preemption bound)
//! and every value a relaxed/acquire load may legally return is explored.
//!
//! Run with `make loom` (`RUSTFLAGS="--cfg loom" cargo test -p phantom-ringbuf --test loom
//! --release --target-dir target/loom`). The checked code is `phantom_ringbuf::protocol`,
//! the same code the shared-memory rings run; slots are loom `UnsafeCell`s, so a slot read
//! not ordered after its write (or a write racing a read) is reported as a data race.
//! A lost wake-up is a deadlock in the futex model and is reported too; a negative control
//! shows the model does catch the lost wake-up when the handshake's fences are missing.
//! The tables' seqlock (`phantom_ringbuf::seqlock`, the code `Table` runs) is checked too:
//! a reader racing a writer never accepts a torn entry, with its own negative control.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;
use phantom_ringbuf::protocol::{ConsumerCore, ProducerCore, RingWords};

struct Shared {
    tail: AtomicU64,
    head: AtomicU64,
    waiter: AtomicU32,
    slots: Vec<UnsafeCell<u64>>,
}

impl Shared {
    fn new(capacity: usize, start: u64) -> Arc<Self> {
        Arc::new(Shared {
            tail: AtomicU64::new(start),
            head: AtomicU64::new(start),
            waiter: AtomicU32::new(0),
            slots: (0..capacity).map(|_| UnsafeCell::new(0)).collect(),
        })
    }

    fn words(&self) -> RingWords<'_> {
        RingWords {
            tail: &self.tail,
            head: &self.head,
            waiter: &self.waiter,
        }
    }

    fn slot(&self, index: u64) -> &UnsafeCell<u64> {
        &self.slots[(index & (self.slots.len() as u64 - 1)) as usize]
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

/// Producer pushes `values` one at a time (batch 1) or in pairs.
fn produce(s: &Shared, values: &[u64], batch: u64) {
    let mut core = ProducerCore::new(s.words(), s.slots.len() as u64);
    let mut i = 0usize;
    while i < values.len() {
        let want = batch.min((values.len() - i) as u64);
        let k = core.writable(s.words(), want);
        if k == 0 {
            thread::yield_now();
            continue;
        }
        for j in 0..k {
            let idx = core.tail() + j;
            let v = values[i + j as usize];
            s.slot(idx).with_mut(|p| {
                // SAFETY: writable() said the slot is free; loom checks that claim.
                unsafe { *p = v }
            });
        }
        core.publish(s.words(), k);
        i += k as usize;
    }
}

/// Consumer pops `n` values, spinning (yielding) while empty.
fn consume_spinning(s: &Shared, n: usize, batch: u64) -> Vec<u64> {
    let mut core = ConsumerCore::new(s.words(), s.slots.len() as u64);
    let mut got = Vec::new();
    while got.len() < n {
        let k = core.available(s.words()).min(batch);
        if k == 0 {
            thread::yield_now();
            continue;
        }
        for j in 0..k {
            let idx = core.head() + j;
            got.push(s.slot(idx).with(|p| {
                // SAFETY: available() said the slot is published; loom checks that.
                unsafe { *p }
            }));
        }
        core.release(s.words(), k);
    }
    got
}

#[test]
fn single_push_pop_through_a_ring_smaller_than_the_stream_keeps_order_and_data() {
    model(|| {
        // Start near 2^62: indices never wrap, slots do.
        let s = Shared::new(2, (1 << 62) - 1);
        let p = s.clone();
        let prod = thread::spawn(move || produce(&p, &[10, 11, 12], 1));
        assert_eq!(consume_spinning(&s, 3, 1), vec![10, 11, 12]);
        prod.join().unwrap();
    });
}

#[test]
fn batch_push_and_batch_pop_keep_order_and_data() {
    model(|| {
        let s = Shared::new(2, 0);
        let p = s.clone();
        let prod = thread::spawn(move || produce(&p, &[1, 2, 3, 4], 2));
        assert_eq!(consume_spinning(&s, 4, 2), vec![1, 2, 3, 4]);
        prod.join().unwrap();
    });
}

#[test]
fn a_sleeping_consumer_is_always_woken_no_lost_wakeup() {
    model(|| {
        let s = Shared::new(2, 0);
        let p = s.clone();
        let prod = thread::spawn(move || produce(&p, &[7, 8], 1));
        let mut core = ConsumerCore::new(s.words(), s.slots.len() as u64);
        let mut got = Vec::new();
        while got.len() < 2 {
            if core.available(s.words()) == 0 {
                // No timeout in the model: a lost wake-up would block forever (deadlock).
                if core.prepare_sleep(s.words()) {
                    core.sleep(s.words(), 0);
                }
                continue;
            }
            let idx = core.head();
            got.push(s.slot(idx).with(|p| {
                // SAFETY: available() said the slot is published; loom checks that.
                unsafe { *p }
            }));
            core.release(s.words(), 1);
        }
        assert_eq!(got, vec![7, 8]);
        prod.join().unwrap();
    });
}

/// Negative control: the same handshake without the SeqCst fences loses wake-ups, and the
/// model finds it (as a deadlock). If this test ever passes without panicking, the model
/// check above proves nothing.
#[test]
#[should_panic(expected = "deadlock")]
fn without_the_fences_the_model_finds_the_lost_wakeup() {
    model(|| {
        let s = Shared::new(2, 0);
        let p = s.clone();
        let prod = thread::spawn(move || {
            p.tail.store(1, Ordering::Release);
            // (fence missing)
            if p.waiter.load(Ordering::Relaxed) != 0 {
                p.waiter.store(0, Ordering::Relaxed);
                phantom_ringbuf::sync::futex_wake(&p.waiter);
            }
        });
        s.waiter.store(1, Ordering::Relaxed);
        // (fence missing)
        if s.tail.load(Ordering::Acquire) == 0 {
            phantom_ringbuf::sync::futex_wait(&s.waiter, 1, 0);
        }
        prod.join().unwrap();
    });
}

// ---------------------------------------------------------------- the tables' seqlock

/// One table entry: the sequence word and two data words, written as a pair `(v, !v)`.
fn entry() -> Arc<Vec<AtomicU64>> {
    Arc::new((0..3).map(|_| AtomicU64::new(0)).collect())
}

/// A reader racing two writes never returns a torn copy: every copy it accepts is one of
/// the values written whole (or the initial one), with the even sequence word of that write.
#[test]
fn a_seqlock_reader_never_accepts_a_torn_entry() {
    model(|| {
        let words = entry();
        let w = words.clone();
        let writer = thread::spawn(move || {
            for v in [1u64, 2] {
                phantom_ringbuf::seqlock::write(&w, &[v, !v]);
            }
        });
        let mut out = [0u64; 2];
        for _ in 0..2 {
            if let Some(seq) = phantom_ringbuf::seqlock::read(&words, &mut out, 2) {
                assert_eq!(seq & 1, 0, "an accepted copy has an even sequence word");
                let expected = match seq {
                    0 => [0, 0],
                    2 => [1, !1],
                    4 => [2, !2],
                    _ => panic!("unexpected sequence word {seq}"),
                };
                assert_eq!(out, expected, "torn copy at sequence {seq}");
            }
        }
        writer.join().unwrap();
        // Once the writer is done a read succeeds and sees the last write.
        assert_eq!(phantom_ringbuf::seqlock::read(&words, &mut out, 1), Some(4));
        assert_eq!(out, [2, !2]);
    });
}

/// Negative control: a writer that publishes its data before marking the entry odd (no odd
/// mark, Relaxed stores) lets a reader accept a torn copy, and the model finds it.
#[test]
#[should_panic(expected = "torn")]
fn without_the_odd_mark_the_model_finds_a_torn_read() {
    model(|| {
        let words = entry();
        let w = words.clone();
        let writer = thread::spawn(move || {
            // Broken writer: data first, then the sequence word, all Relaxed.
            w[1].store(1, Ordering::Relaxed);
            w[2].store(!1, Ordering::Relaxed);
            w[0].store(2, Ordering::Relaxed);
        });
        let mut out = [0u64; 2];
        if let Some(seq) = phantom_ringbuf::seqlock::read(&words, &mut out, 1) {
            let ok = (seq == 0 && out == [0, 0]) || (seq == 2 && out == [1, !1]);
            assert!(ok, "torn copy {out:?} at sequence {seq}");
        }
        writer.join().unwrap();
    });
}
