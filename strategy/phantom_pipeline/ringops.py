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
STATE_LEN = 8

# Wait strategy codes and the adaptive wait's steps and defaults, from the Rust definitions.
WAIT_SPIN: int = constants.WAIT_SPIN
WAIT_ADAPTIVE: int = constants.WAIT_ADAPTIVE
_STEP_PAUSE: int = constants.WAIT_STEP_PAUSE
_STEP_YIELD: int = constants.WAIT_STEP_YIELD
_STEP_SLEEP: int = constants.WAIT_STEP_SLEEP
ADAPTIVE_SPIN_ITERS: int = constants.ADAPTIVE_SPIN_ITERS
ADAPTIVE_YIELD_ITERS: int = constants.ADAPTIVE_YIELD_ITERS
ADAPTIVE_SLEEP_NS: int = constants.ADAPTIVE_SLEEP_NS

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
def wait_available(
    st: Any,
    strategy: int,
    spin_iters: int,
    yield_iters: int,
    sleep_ns: int,
    timeout_ns: int,
) -> int:
    """Wait until a record is readable or ``timeout_ns`` passes; returns the count (0 on
    timeout). ``strategy`` is WAIT_SPIN or WAIT_ADAPTIVE (spin, yield, then futex sleep)."""
    n = available(st)
    if n > 0:
        return n
    deadline = monotonic_ns() + timeout_ns
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
