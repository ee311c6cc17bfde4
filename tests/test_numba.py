"""numba side: intrinsics, the compile cache across processes, the futex wake across
processes, exact 128-bit maths, and seqlock reads against a Rust writer."""

from __future__ import annotations

import json
import textwrap

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from conftest import Procs, finish, wait_until
from phantom_pipeline import atomics, ringops
from phantom_pipeline.segments import (
    TableView,
    attach_ring,
    attach_table,
    create_ring,
    create_table,
)

U64 = st.integers(min_value=0, max_value=(1 << 64) - 1)


@njit(cache=True)
def _muldiv(a: np.uint64, b: np.uint64, c: np.uint64) -> tuple[np.uint64, np.uint64]:
    return atomics.mul_div_u64(a, b, c), atomics.mul_div_ceil_u64(a, b, c)


@njit(cache=True)
def _muldiv128(a: int, b: int, c: int, d: int, e: int, f: int) -> tuple[np.uint64, np.uint64]:
    return atomics.mul_div_u128(a, b, c, d, e, f)  # type: ignore[no-any-return]


@settings(max_examples=300, deadline=None)
@given(U64, U64, U64)
def test_mul_div_u64_is_exact_against_python_integers(a: int, b: int, c: int) -> None:
    q, qc = _muldiv(np.uint64(a), np.uint64(b), np.uint64(c))
    if c == 0:
        assert (q, qc) == (0, 0)
        return
    mask = (1 << 64) - 1
    assert int(q) == (a * b // c) & mask
    assert int(qc) == (-(-(a * b) // c)) & mask


@settings(max_examples=200, deadline=None)
@given(U64, U64, U64, U64, U64, U64)
def test_mul_div_u128_is_exact_against_python_integers(
    alo: int, ahi: int, blo: int, bhi: int, clo: int, chi: int
) -> None:
    a, b, c = alo | ahi << 64, blo | bhi << 64, clo | chi << 64
    lo, hi = _muldiv128(
        np.uint64(alo),
        np.uint64(ahi),
        np.uint64(blo),
        np.uint64(bhi),
        np.uint64(clo),
        np.uint64(chi),
    )
    expect = 0 if c == 0 else (a * b // c) & ((1 << 128) - 1)
    assert int(lo) | int(hi) << 64 == expect


@njit(cache=True)
def _atomics_roundtrip(addr: int) -> tuple[int, int, int, int, int]:
    atomics.store_release_i64(addr, 5)
    a = atomics.load_acquire_i64(addr)
    old = atomics.cas_i64(addr, 5, 9)
    failed = atomics.cas_i64(addr, 5, 11)
    prev = atomics.fetch_add_i64(addr, 3)
    atomics.fence_seqcst()
    atomics.cpu_pause()
    return a, old, failed, prev, atomics.load_relaxed_i64(addr)


def test_atomic_intrinsics_do_what_they_say() -> None:
    buf = np.zeros(4, dtype=np.int64)
    a, old, failed, prev, final = _atomics_roundtrip(buf.ctypes.data + 8)
    assert (a, old, failed, prev, final) == (5, 5, 9, 9, 12)
    assert buf.tolist() == [0, 12, 0, 0]


def test_compiled_ring_functions_load_from_the_cache_in_a_second_process(
    tmp_path, procs: Procs
) -> None:
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = json.loads(finish(procs.python("-m", "phantom_bench.probe", "warm", env=env))[1])
    second = json.loads(finish(procs.python("-m", "phantom_bench.probe", "warm", env=env))[1])
    for fn, s in first.items():
        assert s["cache_misses"] >= 1, (fn, s)  # compiled in the first process ...
    for fn, s in second.items():
        assert s["cache_misses"] == 0 and s["cache_hits"] >= 1, (fn, s)  # ... loaded here


SLEEPER = textwrap.dedent(
    """
    import sys
    from phantom_pipeline import ringops
    from phantom_pipeline.segments import RingEnd, attach_ring
    end = RingEnd(attach_ring(sys.argv[1], "ProbeRecord"), "consumer")
    hour = 3_600_000_000_000
    # No spinning, no yielding, futex sleeps of an hour: only a real wake-up gets us out.
    n = ringops.wait_available(end.state, ringops.WAIT_ADAPTIVE, 0, 0, hour, hour)
    print(n, flush=True)
    """
)


def test_numba_consumer_asleep_on_the_futex_is_woken_by_a_rust_producer(
    seg_name, procs: Procs
) -> None:
    name = seg_name("wake")
    view = create_ring(name, "ProbeRecord", 8)
    sleeper = procs.python("-c", SLEEPER, name)
    wait_until(lambda: view.hdr("waiter") == 1, what="the consumer to sleep on the futex")
    rc, _, err = finish(procs.ring_tool("produce", "--ring", name, "--count", "1"))
    assert rc == 0, err
    rc, out, err = finish(sleeper, timeout=120)
    assert rc == 0, err
    assert out.strip() == "1"
    assert view.hdr("waiter") == 0


def test_rust_consumer_asleep_on_the_futex_is_woken_by_a_numba_producer(
    seg_name, procs: Procs
) -> None:
    name = seg_name("wake")
    view = create_ring(name, "ProbeRecord", 8)
    sleeper = procs.ring_tool(
        "consume", "--ring", name, "--count", "1", "--sleep-ms", "3600000", "--timeout-s", "3600"
    )
    wait_until(lambda: view.hdr("waiter") == 1, what="the Rust consumer to sleep on the futex")
    rc, _, err = finish(
        procs.python("-m", "phantom_bench.probe", "produce", "--ring", name, "--count", "1")
    )
    assert rc == 0, err
    rc, out, err = finish(sleeper, timeout=120)
    assert rc == 0, err
    assert json.loads(out)["verified"] is True


def test_wait_times_out_with_zero_when_nothing_arrives(seg_name) -> None:
    from phantom_pipeline.segments import RingEnd

    name = seg_name("quiet")
    end = RingEnd(create_ring(name, "ProbeRecord", 8), "consumer")
    assert (
        ringops.wait_available(end.state, ringops.WAIT_ADAPTIVE, 10, 2, 1_000_000, 5_000_000) == 0
    )
    assert ringops.wait_available(end.state, ringops.WAIT_SPIN, 0, 0, 0, 2_000_000) == 0
    # The learned wait counts a timeout as a long gap: it learns to sleep at once.
    end.state[ringops.ST_WINDOW] = 4_096
    for _ in range(40):
        assert (
            ringops.wait_available(
                end.state, ringops.WAIT_LEARNED, ringops.LEARNED_MAX_SPIN_NS,
                ringops.LEARNED_WAKE_COST_NS, 1_000_000, 1_000_000,
            )
            == 0
        )  # fmt: skip
    assert end.state[ringops.ST_WINDOW] == 0


LEARNED_SLEEPER = textwrap.dedent(
    """
    import sys
    from phantom_pipeline import ringops
    from phantom_pipeline.segments import RingEnd, attach_ring
    end = RingEnd(attach_ring(sys.argv[1], "ProbeRecord"), "consumer")
    hour = 3_600_000_000_000
    # An empty histogram spins for nothing: straight to the futex, hour-long sleeps.
    n = ringops.wait_available(end.state, ringops.WAIT_LEARNED, ringops.LEARNED_MAX_SPIN_NS,
                               ringops.LEARNED_WAKE_COST_NS, hour, hour)
    print(n, int(end.state[ringops.ST_WINDOW]), flush=True)
    """
)


def test_learned_wait_sleeps_on_the_futex_and_a_rust_producer_wakes_it(
    seg_name, procs: Procs
) -> None:
    name = seg_name("lwake")
    view = create_ring(name, "ProbeRecord", 8)
    sleeper = procs.python("-c", LEARNED_SLEEPER, name)
    wait_until(lambda: view.hdr("waiter") == 1, what="the learned consumer to sleep on the futex")
    rc, _, err = finish(procs.ring_tool("produce", "--ring", name, "--count", "1"))
    assert rc == 0, err
    rc, out, err = finish(sleeper, timeout=120)
    assert rc == 0, err
    n, window = out.split()
    assert n == "1" and int(window) <= ringops.LEARNED_MAX_SPIN_NS
    assert view.hdr("waiter") == 0


@njit(cache=True)
def _read_until(entry_addr: int, final: int, words: np.ndarray) -> tuple[int, int]:
    """Read until the entry reaches version ``final``; count reads and torn copies."""
    reads = 0
    torn = 0
    while True:
        if not ringops.table_read_words(entry_addr, words, 1 << 24):
            return reads, -1
        reads += 1
        v = words[1]
        for w in range(2, words.shape[0]):
            if words[w] != v:
                torn += 1
                break
        if v == final:
            return reads, torn


def test_seqlock_reads_in_numba_are_never_torn_by_a_rust_writer(seg_name, procs: Procs) -> None:
    name = seg_name("pools")
    view = create_table(name, "PoolState", 4)
    versions = 200_000
    writer = procs.ring_tool("table-churn", "--table", name, "--count", str(versions))
    words = np.zeros(view.record_size // 8, dtype=np.int64)
    reads, torn = _read_until(view.entry_address(2), versions, words)
    rc, _, err = finish(writer)
    assert rc == 0, err
    assert torn == 0 and reads >= 1
    assert words[0] % 2 == 0
    final = TableView(attach_table(name, "PoolState")).read(2)
    assert int(final["reserve_a"]) == versions


def test_table_view_write_then_read_round_trips(seg_name) -> None:
    name = seg_name("pools")
    table = TableView(create_table(name, "PoolState", 2))
    rec = np.zeros(1, dtype=table.entries.dtype)
    rec["reserve_a"] = 123
    rec["sqrt_price_hi"] = 7
    table.write(1, rec[0])
    table.write(1, rec[0])
    got = table.read(1)
    assert int(got["reserve_a"]) == 123 and int(got["sqrt_price_hi"]) == 7
    assert int(got["seqlock"]) == 4  # two writes: 0 -> 1 -> 2 -> 3 -> 4


def test_ring_end_push_pop_from_python(seg_name) -> None:
    from phantom_pipeline.segments import RingEnd

    name = seg_name("intents")
    tx = RingEnd(create_ring(name, "OrderIntent", 4), "producer")
    rx = RingEnd(attach_ring(name, "OrderIntent", 4), "consumer")
    for i in range(4):
        rec = np.zeros(1, dtype=tx.slots.dtype)
        rec["route_id"] = i
        assert tx.push(rec[0])
    assert not tx.push(np.zeros(1, dtype=tx.slots.dtype)[0])
    assert [int(rx.pop()["route_id"]) for _ in range(4)] == [0, 1, 2, 3]  # type: ignore[index]
    assert rx.pop() is None
