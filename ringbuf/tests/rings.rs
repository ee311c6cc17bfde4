//! Ring, segment and table behaviour over real shared memory, in one process (threads).
//! Cross-process tests live in the Python suite (tests/test_cross_process.py).
#![cfg(not(loom))]

use phantom_ringbuf::records::{MarketUpdate, PoolState, ProbeRecord, HEADER_SIZE, MAGIC};
use phantom_ringbuf::ring::{self, Consumer, Producer, WaitStrategy};
use phantom_ringbuf::schema::{Container, Record};
use phantom_ringbuf::segment::{self, CreateOptions, Layout, Liveness, Segment, SegmentError};
use phantom_ringbuf::table::Table;
use std::time::Duration;

/// A segment name unique to this test, removed when dropped (even on panic).
struct Name(String);

impl Name {
    fn new(tag: &str) -> Self {
        Name(format!("phantom-rt{}-{tag}", std::process::id()))
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = segment::remove(&self.0);
    }
}

fn opts(initial_index: u64) -> CreateOptions {
    CreateOptions {
        instance: "rt".into(),
        role: "test".into(),
        initial_index,
        mlock: false,
    }
}

#[test]
fn push_pop_single_and_batch_wrap_around_from_near_2_pow_62() {
    let n = Name::new("wrap");
    let start = (1u64 << 62) - 3;
    let seg = ring::create::<ProbeRecord>(&n.0, 4, &opts(start)).unwrap();
    let mut tx = Producer::<ProbeRecord>::new(seg);
    let mut rx = Consumer::<ProbeRecord>::attach(&n.0, Some(4)).unwrap();
    assert_eq!(tx.tail(), start);
    let mut next = 0u64;
    let mut expect = 0u64;
    for round in 0..50 {
        // Alternate single pushes and batches; the ring is smaller than a round.
        let want = 1 + round % 4;
        let pushed = tx.push_batch_with(want, |slot, _| {
            // SAFETY: slot is free and ours until published.
            unsafe { slot.write(ProbeRecord::for_seq(next, 0)) };
            next += 1;
        });
        assert!(pushed <= want);
        if round % 2 == 0 {
            while let Some(r) = rx.try_pop() {
                assert_eq!(r.seq, expect);
                assert!(r.is_valid());
                expect += 1;
            }
        } else {
            rx.pop_batch_with(u64::MAX, |r, _| {
                assert_eq!(r.seq, expect);
                expect += 1;
            });
        }
    }
    assert_eq!(expect, next);
    assert!(
        rx.head() > 1 << 62,
        "indices went past 2^62 without wrapping"
    );
}

#[test]
fn full_ring_refuses_push_and_nothing_is_overwritten() {
    let n = Name::new("full");
    let seg = ring::create::<ProbeRecord>(&n.0, 2, &opts(0)).unwrap();
    let mut tx = Producer::<ProbeRecord>::new(seg);
    let mut rx = Consumer::<ProbeRecord>::attach(&n.0, None).unwrap();
    assert!(tx.try_push(&ProbeRecord::for_seq(0, 0)));
    assert!(tx.try_push(&ProbeRecord::for_seq(1, 0)));
    assert!(!tx.try_push(&ProbeRecord::for_seq(2, 0)));
    assert_eq!(tx.free(), 0);
    assert_eq!(rx.try_pop().unwrap().seq, 0);
    assert!(tx.try_push(&ProbeRecord::for_seq(2, 0)));
    assert_eq!(rx.try_pop().unwrap().seq, 1);
    assert_eq!(rx.try_pop().unwrap().seq, 2);
    assert!(rx.try_pop().is_none());
}

#[test]
fn adaptive_wait_is_woken_by_a_producer_in_another_thread() {
    let n = Name::new("wake");
    let seg = ring::create::<ProbeRecord>(&n.0, 8, &opts(0)).unwrap();
    let mut rx = Consumer::<ProbeRecord>::new(seg);
    let name = n.0.clone();
    let prod = std::thread::spawn(move || {
        let mut tx = Producer::<ProbeRecord>::attach(&name, None).unwrap();
        for seq in 0..200 {
            // Let the consumer fall asleep now and then.
            if seq % 50 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
            while !tx.try_push(&ProbeRecord::for_seq(seq, 0)) {
                std::thread::yield_now();
            }
        }
    });
    // Futex sleeps of up to an hour: a lost wake-up would hang, not slow down.
    let strategy = WaitStrategy::Adaptive {
        spin_iters: 10,
        yield_iters: 1,
        sleep_ns: 3_600_000_000_000,
    };
    let mut expect = 0;
    while expect < 200 {
        assert!(rx.wait(strategy, Duration::from_secs(3600)) > 0);
        while let Some(r) = rx.try_pop() {
            assert_eq!(r.seq, expect);
            expect += 1;
        }
    }
    prod.join().unwrap();
}

#[test]
fn wait_times_out_with_zero_on_an_empty_ring() {
    let n = Name::new("tmo");
    let seg = ring::create::<ProbeRecord>(&n.0, 8, &opts(0)).unwrap();
    let mut rx = Consumer::<ProbeRecord>::new(seg);
    assert_eq!(
        rx.wait(WaitStrategy::ADAPTIVE, Duration::from_millis(20)),
        0
    );
    assert_eq!(rx.wait(WaitStrategy::Spin, Duration::from_millis(5)), 0);
}

fn expect_mismatch(r: Result<Segment, SegmentError>, field: &str) {
    match r {
        Err(SegmentError::Mismatch {
            field: f,
            found,
            expected,
            segment,
        }) => {
            assert_eq!(f, field);
            assert_ne!(found, expected);
            assert!(segment.starts_with("phantom-rt"));
        }
        other => panic!("expected a {field} mismatch, got {other:?}"),
    }
}

#[test]
fn attach_refuses_every_header_mismatch_naming_the_field() {
    let n = Name::new("refuse");
    let seg = ring::create::<MarketUpdate>(&n.0, 16, &opts(0)).unwrap();
    let layout = Layout::of::<MarketUpdate>(Container::Ring);
    assert!(Segment::attach(&n.0, layout, Some(16)).is_ok());
    expect_mismatch(Segment::attach(&n.0, layout, Some(32)), "capacity");
    expect_mismatch(ring::attach::<ProbeRecord>(&n.0, None), "record_kind");
    expect_mismatch(
        Segment::attach(&n.0, Layout::of::<MarketUpdate>(Container::Table), None),
        "record_kind",
    );
    let base = seg.as_ptr();
    let poke = |off: usize, bytes: &[u8]| {
        // SAFETY: offsets inside the header; this test owns the segment.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(off), bytes.len()) }
    };
    let peek = |off: usize, len: usize| -> Vec<u8> {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts(base.add(off), len).to_vec() }
    };
    for (off, len, field) in [
        (0, 8, "magic"),
        (8, 4, "abi_version"),
        (16, 8, "layout_hash"),
        (24, 4, "record_size"),
    ] {
        let saved = peek(off, len);
        let mut flipped = saved.clone();
        flipped[0] ^= 0x5A;
        poke(off, &flipped);
        expect_mismatch(Segment::attach(&n.0, layout, None), field);
        poke(off, &saved);
    }
    assert!(Segment::attach(&n.0, layout, Some(16)).is_ok());
    assert_eq!(u64::from_le_bytes(peek(0, 8).try_into().unwrap()), MAGIC);
}

#[test]
fn truncated_and_foreign_objects_are_refused() {
    let short = Name::new("short");
    std::fs::write(format!("/dev/shm/{}", short.0), [0u8; 100]).unwrap();
    assert!(matches!(
        ring::attach::<ProbeRecord>(&short.0, None),
        Err(SegmentError::Truncated { .. })
    ));
    let foreign = Name::new("foreign");
    std::fs::write(format!("/dev/shm/{}", foreign.0), vec![0xABu8; 8192]).unwrap();
    // Ours by owner and mode (0600), so the header check is what refuses it.
    std::fs::set_permissions(
        format!("/dev/shm/{}", foreign.0),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    expect_mismatch(ring::attach::<ProbeRecord>(&foreign.0, None), "magic");
    // Not ours: never removed by the stale cleanup.
    assert!(segment::remove_if_stale(&foreign.0, 0).is_err());
    assert!(std::path::Path::new(&format!("/dev/shm/{}", foreign.0)).exists());
    // A header that claims more slots than the object holds.
    let cut = Name::new("cut");
    let seg = ring::create::<ProbeRecord>(&cut.0, 64, &opts(0)).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/{}", cut.0))
        .unwrap();
    f.set_len((HEADER_SIZE + 64 * 10) as u64).unwrap();
    drop(seg);
    assert!(matches!(
        ring::attach::<ProbeRecord>(&cut.0, None),
        Err(SegmentError::Truncated { .. })
    ));
}

#[test]
fn create_refuses_existing_names_and_bad_capacities() {
    let n = Name::new("dup");
    let _seg = ring::create::<ProbeRecord>(&n.0, 8, &opts(0)).unwrap();
    assert!(matches!(
        ring::create::<ProbeRecord>(&n.0, 8, &opts(0)),
        Err(SegmentError::AlreadyExists { .. })
    ));
    let m = Name::new("cap");
    assert!(matches!(
        ring::create::<ProbeRecord>(&m.0, 12, &opts(0)),
        Err(SegmentError::Invalid {
            what: "capacity",
            ..
        })
    ));
    assert!(matches!(
        ring::create::<ProbeRecord>("bad/name", 8, &opts(0)),
        Err(SegmentError::Invalid { what: "name", .. })
    ));
    assert!(matches!(
        ring::attach::<ProbeRecord>(&m.0, None),
        Err(SegmentError::NotFound { .. })
    ));
}

#[test]
fn segments_are_created_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let n = Name::new("mode");
    let _seg = ring::create::<ProbeRecord>(&n.0, 8, &opts(0)).unwrap();
    let mode = std::fs::metadata(format!("/dev/shm/{}", n.0))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_segment_of_a_live_creator_is_never_removed() {
    let n = Name::new("live");
    let seg = ring::create::<ProbeRecord>(&n.0, 8, &opts(0)).unwrap();
    assert!(matches!(seg.liveness(0), Liveness::Live(_)));
    assert!(matches!(
        segment::remove_if_stale(&n.0, 0),
        Err(SegmentError::Live { .. })
    ));
    let (removed, kept) = segment::clean_stale(&n.0, 0).unwrap();
    assert!(removed.is_empty());
    assert_eq!(kept.len(), 1);
    assert!(ring::attach::<ProbeRecord>(&n.0, None).is_ok());
}

#[test]
fn seqlock_readers_never_see_a_torn_entry() {
    let n = Name::new("seqlock");
    let table = Table::<PoolState>::create(&n.0, 4, &opts(0)).unwrap();
    let name = n.0.clone();
    let writer = std::thread::spawn(move || {
        let t = Table::<PoolState>::attach(&name, Some(4)).unwrap();
        let mut rec = PoolState::zeroed();
        for v in 1..=20_000u64 {
            rec.last_slot = v;
            rec.reserve_a = v;
            rec.reserve_b = v;
            rec.t_pub_ns = v;
            for i in 0..4 {
                t.write(i, &rec);
            }
        }
    });
    let mut last = [0u64; 4];
    while !writer.is_finished() {
        for (i, seen) in last.iter_mut().enumerate() {
            let r = table.read(i).expect("writer alive");
            assert!(r.seqlock.is_multiple_of(2));
            assert!(
                r.last_slot == r.reserve_a
                    && r.reserve_a == r.reserve_b
                    && r.reserve_b == r.t_pub_ns
            );
            assert!(r.last_slot >= *seen, "versions go forward");
            *seen = r.last_slot;
        }
    }
    writer.join().unwrap();
    assert_eq!(table.read(3).unwrap().last_slot, 20_000);
}

/// The other end's index is untrusted: a head or tail that breaks `head <= tail <= head +
/// capacity` is refused (the ring counts as full for the producer, empty for the consumer),
/// counted in the header, and nothing outside the proven slots is read or overwritten.
#[test]
fn broken_indices_from_the_other_end_are_refused_and_counted() {
    let n = Name::new("broken");
    let seg = ring::create::<ProbeRecord>(&n.0, 4, &opts(100)).unwrap();
    let mut tx = Producer::<ProbeRecord>::new(seg);
    let mut rx = Consumer::<ProbeRecord>::attach(&n.0, Some(4)).unwrap();
    for i in 0..4 {
        assert!(tx.try_push(&ProbeRecord::for_seq(i, 0)));
    }
    // A third mapping plays the misbehaving other end.
    let raw = Segment::attach(&n.0, Layout::of::<ProbeRecord>(Container::Ring), Some(4)).unwrap();
    let hdr = raw.header();
    let errors = || hdr.index_errors.load(std::sync::atomic::Ordering::Relaxed);
    // A consumer that moves head past the tail: the producer refuses it, counts it, and
    // keeps the ring full instead of overwriting unread slots.
    hdr.head
        .store(1 << 40, std::sync::atomic::Ordering::Release);
    assert!(!tx.try_push(&ProbeRecord::for_seq(9, 0)));
    assert_eq!(tx.free(), 0);
    assert!(errors() >= 1);
    // Head back to where the consumer really was: business as usual.
    hdr.head.store(100, std::sync::atomic::Ordering::Release);
    assert_eq!(rx.try_pop().map(|r| r.seq), Some(0));
    assert!(tx.try_push(&ProbeRecord::for_seq(4, 0)));
    // A producer that claims more than the ring holds: the consumer reads nothing past what
    // it had proven published, and counts the refusal.
    let before = errors();
    let mut drained = Vec::new();
    while let Some(r) = rx.try_pop() {
        drained.push(r.seq);
    }
    assert_eq!(drained, vec![1, 2, 3, 4]);
    hdr.tail
        .store(105 + 1000, std::sync::atomic::Ordering::Release);
    assert!(rx.try_pop().is_none());
    assert_eq!(rx.available(), 0);
    assert!(errors() > before);
}

#[test]
fn peeked_records_stay_in_the_ring_until_released_one_by_one() {
    let n = Name::new("peek");
    let seg = ring::create::<ProbeRecord>(&n.0, 4, &opts(0)).unwrap();
    let mut tx = Producer::<ProbeRecord>::new(seg);
    for s in 0..4 {
        assert!(tx.try_push(&ProbeRecord::for_seq(s, 0)));
    }
    assert!(!tx.try_push(&ProbeRecord::for_seq(4, 0)), "full");
    let mut rx = Consumer::<ProbeRecord>::attach(&n.0, Some(4)).unwrap();
    let mut seen = Vec::new();
    assert_eq!(rx.peek_batch_with(3, |r, i| seen.push((r.seq, i))), 3);
    assert_eq!(seen, [(0, 0), (1, 1), (2, 2)]);
    // Nothing handed back yet: the producer still finds the ring full, and a consumer that
    // replaced this one would read the same records again.
    assert!(!tx.try_push(&ProbeRecord::for_seq(4, 0)));
    assert_eq!(rx.head(), 0);
    rx.release(1);
    assert_eq!(rx.head(), 1);
    assert!(tx.try_push(&ProbeRecord::for_seq(4, 0)), "one slot back");
    drop(rx);
    let mut successor = Consumer::<ProbeRecord>::attach(&n.0, Some(4)).unwrap();
    let mut again = Vec::new();
    successor.peek_batch_with(u64::MAX, |r, _| again.push(r.seq));
    assert_eq!(again, [1, 2, 3, 4]);
    // Releasing more than is readable hands back only what is there.
    successor.release(10);
    assert_eq!(successor.head(), 5);
}

#[test]
fn every_mapping_holds_the_segment_lock_until_dropped() {
    let n = Name::new("flock");
    let seg = ring::create::<ProbeRecord>(&n.0, 8, &opts(0)).unwrap();
    let other = Segment::open_unchecked(&n.0).unwrap();
    // Only other processes count as "others" (the cross-process case is in
    // tests/test_fail_closed.py); asking never drops this process's own locks.
    assert!(!seg.held_by_others() && !other.held_by_others());
    // A remover sees every descriptor's lock: refused even at a zero heartbeat
    // tolerance, and the reason names the lock.
    for _ in 0..2 {
        match segment::remove_if_stale(&n.0, 0) {
            Err(SegmentError::Live { why, .. }) => assert!(why.contains("lock is held"), "{why}"),
            other => panic!("expected Live, got {other:?}"),
        }
    }
    drop(other);
    drop(seg);
    // Unmapped: now only the live creator (this process) keeps it.
    match segment::remove_if_stale(&n.0, 0) {
        Err(SegmentError::Live { why, .. }) => assert!(why.contains("creator pid"), "{why}"),
        other => panic!("expected Live, got {other:?}"),
    }
}

#[test]
fn a_segment_with_another_mode_is_refused_naming_owner_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let n = Name::new("mode0644");
    drop(ring::create::<ProbeRecord>(&n.0, 8, &opts(0)).unwrap());
    let path = format!("/dev/shm/{}", n.0);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    match ring::attach::<ProbeRecord>(&n.0, None) {
        Err(SegmentError::Foreign { mode, owner, .. }) => {
            assert_eq!(mode, 0o644);
            // SAFETY: geteuid has no preconditions.
            assert_eq!(owner, unsafe { libc::geteuid() });
        }
        other => panic!("expected Foreign, got {other:?}"),
    }
    let msg = ring::attach::<ProbeRecord>(&n.0, None)
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&n.0) && msg.contains("mode 0644"), "{msg}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(ring::attach::<ProbeRecord>(&n.0, None).is_ok());
}

/// Ring ends are exclusive: a second consumer (or producer) is refused, naming the live
/// holder's pid; a dead holder's end is taken over; a clean exit gives the end back.
#[test]
fn ring_ends_are_exclusive_and_a_dead_holders_end_is_taken_over() {
    use std::sync::atomic::Ordering::{Relaxed, Release};
    let n = Name::new("excl");
    let seg = ring::create::<ProbeRecord>(&n.0, 8, &opts(0)).unwrap();
    let tx = Producer::<ProbeRecord>::new(seg);
    // Another live process holds the consumer end (a child that sleeps).
    let mut other = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .expect("spawn sleep");
    let hdr = tx.segment().header();
    let started = phantom_ringbuf::clock::process_start_time(other.id()).expect("start time");
    hdr.consumer_start_time.store(started, Relaxed);
    hdr.consumer_pid.store(other.id(), Release);
    let refused = Consumer::<ProbeRecord>::attach(&n.0, Some(8))
        .err()
        .expect("a second consumer is refused");
    assert!(
        refused
            .to_string()
            .contains(&format!("consumer is pid {}", other.id())),
        "{refused}"
    );
    // The holder dies: its end is taken over.
    other.kill().expect("kill");
    other.wait().expect("reap");
    let rx = Consumer::<ProbeRecord>::attach(&n.0, Some(8)).expect("taken over");
    assert_eq!(hdr.consumer_pid.load(Relaxed), std::process::id());
    // Dropping an end gives it back.
    drop(rx);
    assert_eq!(hdr.consumer_pid.load(Relaxed), 0);
}
