"""Ring and table operations in numba (``cache=True``), the Python half of DESIGN §3.2.

This is the same protocol as ``ringbuf/src/protocol.rs``, operation for operation; read that
file's docs for why each ordering is what it is. A ring end is described by a small
process-local int64 *state* array (``phantom_pipeline.segments.RingEnd.state``):

====  ===================================================================================
idx   meaning
====  ===================================================================================
0     address of the segment header
1     address of slot 0
2     capacity (a power of two)
3     record size in bytes
4     this end's own index (producer: tail, consumer: head), private copy
5     cached copy of the other end's index (producer: head, consumer: tail)
8     consumer: the learned wait's spin window, ns (``learn_gap``)
9..   consumer: the learned wait's gap histogram (``LEARNED_BUCKETS`` fixed-point counts)
====  ===================================================================================

Slots are read and written through the numpy structured view of the segment
(``RingEnd.slots``) at ``index & (capacity - 1)``, or as raw bytes (``RingEnd.slot_bytes``).
Indices are int64 (they start below 2**62 and never wrap in practice).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from phantom_pipeline import _native, constants
from phantom_pipeline.atomics import (
    cpu_pause,
    fence_acquire,
    fence_release,
    fence_seqcst,
    futex_wait,
    futex_wake,
    load_acquire_i64,
    load_relaxed_i64,
    load_relaxed_u32,
    monotonic_ns,
    sched_yield,
    store_relaxed_i64,
    store_relaxed_u32,
    store_release_i64,
)

TAIL_OFFSET: int = _native.TAIL_OFFSET
HEAD_OFFSET: int = _native.HEAD_OFFSET
WAITER_OFFSET: int = _native.WAITER_OFFSET

# state array slots
ST_HDR = 0
ST_SLOTS = 1
ST_CAP = 2
ST_RSIZE = 3
ST_OWN = 4
ST_OTHER = 5
ST_WINDOW = 8
ST_HIST = 9

# Wait strategy codes and the adaptive wait's steps and defaults, from the Rust definitions.
WAIT_SPIN: int = constants.WAIT_SPIN
WAIT_ADAPTIVE: int = constants.WAIT_ADAPTIVE
_STEP_PAUSE: int = constants.WAIT_STEP_PAUSE
_STEP_YIELD: int = constants.WAIT_STEP_YIELD
_STEP_SLEEP: int = constants.WAIT_STEP_SLEEP
ADAPTIVE_SPIN_ITERS: int = constants.ADAPTIVE_SPIN_ITERS
ADAPTIVE_YIELD_ITERS: int = constants.ADAPTIVE_YIELD_ITERS
ADAPTIVE_SLEEP_NS: int = constants.ADAPTIVE_SLEEP_NS
WAIT_LEARNED: int = constants.WAIT_LEARNED
LEARNED_MAX_SPIN_NS: int = constants.LEARNED_MAX_SPIN_NS
LEARNED_WAKE_COST_NS: int = constants.LEARNED_WAKE_COST_NS
LEARNED_SLEEP_NS: int = constants.LEARNED_SLEEP_NS
LEARNED_BUCKETS: int = constants.LEARNED_BUCKETS
_LEARNED_BASE_NS: int = constants.LEARNED_BASE_NS
_LEARNED_DECAY_SHIFT: int = constants.LEARNED_DECAY_SHIFT
_LEARNED_ONE: int = constants.LEARNED_ONE
STATE_LEN = ST_HIST + LEARNED_BUCKETS

# Offsets are module constants: numba freezes them into the compiled (and cached) code.
_TAIL = TAIL_OFFSET
_HEAD = HEAD_OFFSET
_WAITER = WAITER_OFFSET


@njit(cache=True, inline="always")
def slot_of(st: Any, index: int) -> int:
    """Slot number of ring index ``index``."""
    return index & (st[ST_CAP] - 1)


# ---------------------------------------------------------------- producer side


@njit(cache=True)
def writable(st: Any, want: int) -> int:
    """Slots that can be written now, up to ``want``; reloads head only when short."""
    cap = st[ST_CAP]
    free = cap - (st[ST_OWN] - st[ST_OTHER])
    if free >= want:
        return want
    # Acquire: pairs with the consumer's Release store of head (consumer_release).
    st[ST_OTHER] = load_acquire_i64(st[ST_HDR] + _HEAD)
    free = cap - (st[ST_OWN] - st[ST_OTHER])
    return min(free, want)


@njit(cache=True)
def publish(st: Any, n: int) -> None:
    """Publish ``n`` written slots with one Release store and wake a sleeping consumer."""
    st[ST_OWN] += n
    # Release: pairs with the consumer's Acquire load of tail (available).
    store_release_i64(st[ST_HDR] + _TAIL, st[ST_OWN])
    # SeqCst fence: producer half of the Dekker handshake (pairs with prepare_sleep).
    fence_seqcst()
    waiter = st[ST_HDR] + _WAITER
    if load_relaxed_u32(waiter) != 0:
        store_relaxed_u32(waiter, 0)
        futex_wake(waiter)


@njit(cache=True)
def try_push_bytes(st: Any, slot_bytes: Any, rec: Any) -> bool:
    """Copy one record (a uint8 row) into the ring; False if full."""
    if writable(st, 1) == 0:
        return False
    slot_bytes[slot_of(st, st[ST_OWN])][:] = rec
    publish(st, 1)
    return True


@njit(cache=True)
def push_batch_bytes(st: Any, slot_bytes: Any, recs: Any, n: int) -> int:
    """Copy up to ``n`` records (rows of ``recs``) in, publish once; returns how many."""
    k = writable(st, n)
    base = st[ST_OWN]
    for j in range(k):
        slot_bytes[slot_of(st, base + j)][:] = recs[j]
    if k > 0:
        publish(st, k)
    return k


# ---------------------------------------------------------------- consumer side


@njit(cache=True)
def available(st: Any) -> int:
    """Records readable now; reloads tail only when the cache says empty."""
    if st[ST_OTHER] > st[ST_OWN]:
        return st[ST_OTHER] - st[ST_OWN]
    # Acquire: pairs with the producer's Release store of tail (publish).
    st[ST_OTHER] = load_acquire_i64(st[ST_HDR] + _TAIL)
    return st[ST_OTHER] - st[ST_OWN]


@njit(cache=True)
def release(st: Any, n: int) -> None:
    """Hand ``n`` read slots back to the producer with one Release store."""
    st[ST_OWN] += n
    # Release: pairs with the producer's Acquire load of head (writable).
    store_release_i64(st[ST_HDR] + _HEAD, st[ST_OWN])


@njit(cache=True)
def try_pop_bytes(st: Any, slot_bytes: Any, out: Any) -> bool:
    """Copy one record out (into a uint8 row); False if empty."""
    if available(st) == 0:
        return False
    out[:] = slot_bytes[slot_of(st, st[ST_OWN])]
    release(st, 1)
    return True


@njit(cache=True)
def pop_batch_bytes(st: Any, slot_bytes: Any, out: Any, max_n: int) -> int:
    """Copy up to ``max_n`` records out (rows of ``out``), release once; returns how many."""
    k = min(available(st), max_n)
    base = st[ST_OWN]
    for j in range(k):
        out[j][:] = slot_bytes[slot_of(st, base + j)]
    if k > 0:
        release(st, k)
    return k


@njit(cache=True)
def prepare_sleep(st: Any) -> bool:
    """Consumer half of the wake handshake; True if still empty (the caller may sleep)."""
    waiter = st[ST_HDR] + _WAITER
    store_relaxed_u32(waiter, 1)
    # SeqCst fence: pairs with the fence in publish.
    fence_seqcst()
    if available(st) > 0:
        store_relaxed_u32(waiter, 0)
        return False
    return True


@njit(cache=True)
def adaptive_step(i: int, spin_iters: int, yield_iters: int) -> int:
    """The wait step after the ``i``-th empty check: the numba twin of Rust's
    ``ring::adaptive_step`` (the tests compare the two), so both wait loops take the same
    steps from one table."""
    if i < spin_iters:
        return _STEP_PAUSE
    if i < spin_iters + yield_iters:
        return _STEP_YIELD
    return _STEP_SLEEP


@njit(cache=True)
def gap_bucket(gap_ns: int) -> int:
    """The learned wait's histogram bucket of a gap (twin of Rust's ``learn::gap_bucket``)."""
    k = 0
    while k < LEARNED_BUCKETS - 1 and gap_ns >= (_LEARNED_BASE_NS << k):
        k += 1
    return k


@njit(cache=True)
def learned_window(st: Any, max_spin_ns: int, wake_cost_ns: int) -> int:
    """The spin window minimising the expected cost over the histogram in ``st`` (twin of
    Rust's ``learn::learned_window``: see ``ringbuf/src/learn.rs``)."""
    best_w = 0
    best_cost = -1.0
    for j in range(LEARNED_BUCKETS):
        w = 0 if j == 0 else _LEARNED_BASE_NS << (j - 1)
        if w > max_spin_ns:
            break
        # Float sums: exact for these magnitudes (< 2^53), and numba has no u128.
        cost = 0.0
        for k in range(LEARNED_BUCKETS):
            per = (_LEARNED_BASE_NS << k) * 3 // 4 if k < j else w + wake_cost_ns
            cost += float(st[ST_HIST + k]) * float(per)
        if best_cost < 0.0 or cost < best_cost:
            best_cost = cost
            best_w = w
    return best_w


@njit(cache=True)
def learn_gap(st: Any, gap_ns: int, max_spin_ns: int, wake_cost_ns: int) -> int:
    """Record a waited gap and choose the spin window again (twin of Rust's
    ``GapLearner::observe``); returns the new window."""
    for k in range(LEARNED_BUCKETS):
        st[ST_HIST + k] -= st[ST_HIST + k] >> _LEARNED_DECAY_SHIFT
    st[ST_HIST + gap_bucket(gap_ns)] += _LEARNED_ONE
    w = learned_window(st, max_spin_ns, wake_cost_ns)
    st[ST_WINDOW] = w
    return w


@njit(cache=True)
def _sleep_until(st: Any, deadline: int, sleep_ns: int) -> int:
    """The futex stage of a wait: handshake, sleep, re-check, until a record or deadline."""
    while True:
        now = monotonic_ns()
        if now >= deadline:
            return available(st)
        if not prepare_sleep(st):
            return available(st)
        waiter = st[ST_HDR] + _WAITER
        futex_wait(waiter, 1, max(1, min(sleep_ns, deadline - now)))
        store_relaxed_u32(waiter, 0)
        n = available(st)
        if n > 0:
            return n


@njit(cache=True)
def wait_available(
    st: Any,
    strategy: int,
    spin_iters: int,
    yield_iters: int,
    sleep_ns: int,
    timeout_ns: int,
) -> int:
    """Wait until a record is readable or ``timeout_ns`` passes; returns the count (0 on
    timeout). ``strategy`` is WAIT_SPIN, WAIT_ADAPTIVE (spin ``spin_iters`` times, yield
    ``yield_iters`` times, then futex sleep) or WAIT_LEARNED (spin for the window learned
    from this end's gaps, at most ``spin_iters`` ns, taking a sleep and wake-up to cost
    ``yield_iters`` ns, then futex sleep: ``ringbuf/src/learn.rs``)."""
    n = available(st)
    if n > 0:
        return n
    start = monotonic_ns()
    deadline = start + timeout_ns
    if strategy == WAIT_LEARNED:
        window = st[ST_WINDOW]
        n = 0
        if window > 0:
            spin_until = start + window
            i = 0
            while True:
                n = available(st)
                if n > 0:
                    break
                cpu_pause()
                i += 1
                if (i & 15) == 0 and monotonic_ns() >= spin_until:
                    break
        if n == 0:
            n = _sleep_until(st, deadline, sleep_ns)
        # A timed-out wait is a long gap: a quiet ring learns to sleep at once.
        gap = monotonic_ns() - start if n > 0 else 1 << 62
        learn_gap(st, gap, spin_iters, yield_iters)
        return n
    if strategy == WAIT_SPIN:
        i = 0
        while True:
            n = available(st)
            if n > 0:
                return n
            cpu_pause()
            i += 1
            if (i & 1023) == 0 and monotonic_ns() >= deadline:
                return 0
    i = 0
    while True:
        n = available(st)
        if n > 0:
            return n
        step = adaptive_step(i, spin_iters, yield_iters)
        if step == _STEP_PAUSE:
            cpu_pause()
        elif step == _STEP_YIELD:
            sched_yield()
        else:
            break
        i += 1
    return _sleep_until(st, deadline, sleep_ns)


# ---------------------------------------------------------------- seqlock tables


@njit(cache=True)
def table_read_words(entry_addr: int, out_words: Any, max_retries: int) -> bool:
    """Consistent copy of a seqlock table entry into ``out_words`` (uint64/int64, one per
    8 bytes; word 0 is the seqlock). False if the writer seems to have died mid-write."""
    nwords = out_words.shape[0]
    for _ in range(max_retries):
        # Acquire: pairs with the writer's final Release store of the word.
        s1 = load_acquire_i64(entry_addr)
        if s1 & 1:
            cpu_pause()
            continue
        for w in range(1, nwords):
            out_words[w] = load_relaxed_i64(entry_addr + 8 * w)
        # Acquire fence: the data loads stay before the re-check (pairs with the writer's
        # Release fence).
        fence_acquire()
        s2 = load_relaxed_i64(entry_addr)
        if s1 == s2:
            out_words[0] = s1
            return True
    return False


@njit(cache=True)
def table_write_words(entry_addr: int, words: Any) -> None:
    """Replace a seqlock table entry with ``words`` (word 0 ignored). Single writer only."""
    s = load_relaxed_i64(entry_addr)
    odd = s | 1
    store_relaxed_i64(entry_addr, odd)
    # Release fence: data stores stay after the odd mark (pairs with the reader's fence).
    fence_release()
    for w in range(1, words.shape[0]):
        store_relaxed_i64(entry_addr + 8 * w, words[w])
    # Release: publishes the data (pairs with the reader's Acquire load).
    store_release_i64(entry_addr, odd + 1)


def new_state() -> np.ndarray[Any, np.dtype[np.int64]]:
    """A zeroed state array (filled in by ``RingEnd``)."""
    return np.zeros(STATE_LEN, dtype=np.int64)
