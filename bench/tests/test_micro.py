"""pytest-benchmark micro-benchmarks: numba ring operations and view creation.

Run with ``make bench`` (``pytest bench --benchmark-only``); compare runs with
``--benchmark-autosave`` / ``--benchmark-compare``. In ``make test`` they run once each with
``--benchmark-disable`` so the harness itself stays tested.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from numba import njit

from phantom_pipeline import _native, atomics, ringops
from phantom_pipeline.segments import RingEnd, attach_ring, create_ring


@pytest.fixture
def ring() -> Iterator[tuple[RingEnd, RingEnd]]:
    name = f"phantom-mb{os.getpid()}x{uuid.uuid4().hex[:6]}-ring"
    view = create_ring(name, "ProbeRecord", 1024)
    try:
        yield RingEnd(view, "producer"), RingEnd(attach_ring(name, "ProbeRecord"), "consumer")
    finally:
        _native.remove_segment(name)


@njit(cache=True)
def _push_pop_pairs(tx_st, tx_bytes, rx_st, rx_bytes, row, n):  # type: ignore[no-untyped-def]
    for _ in range(n):
        ringops.try_push_bytes(tx_st, tx_bytes, row)
        ringops.try_pop_bytes(rx_st, rx_bytes, row)
    return n


@njit(cache=True)
def _batch_round_trips(tx_st, tx_bytes, rx_st, rx_bytes, rows, n):  # type: ignore[no-untyped-def]
    moved = 0
    for _ in range(n):
        moved += ringops.push_batch_bytes(tx_st, tx_bytes, rows, rows.shape[0])
        moved += ringops.pop_batch_bytes(rx_st, rx_bytes, rows, rows.shape[0])
    return moved


def test_numba_single_push_pop_x1000(benchmark, ring) -> None:  # type: ignore[no-untyped-def]
    tx, rx = ring
    row = np.zeros(64, dtype=np.uint8)
    assert (
        benchmark(_push_pop_pairs, tx.state, tx.slot_bytes, rx.state, rx.slot_bytes, row, 1000)
        == 1000
    )


def test_numba_batch256_push_pop_x100(benchmark, ring) -> None:  # type: ignore[no-untyped-def]
    tx, rx = ring
    rows = np.zeros((256, 64), dtype=np.uint8)
    moved = benchmark(
        _batch_round_trips, tx.state, tx.slot_bytes, rx.state, rx.slot_bytes, rows, 100
    )
    assert moved == 2 * 256 * 100


def test_attach_and_view_creation(benchmark, ring) -> None:  # type: ignore[no-untyped-def]
    name = ring[0].view.name
    end = benchmark(lambda: RingEnd(attach_ring(name, "ProbeRecord"), "consumer"))
    assert end.view.capacity == 1024


@njit(cache=True)
def _muldiv_sum(a, n):  # type: ignore[no-untyped-def]
    s = np.uint64(0)
    for i in range(n):
        s += atomics.mul_div_u64(a[i], np.uint64(997), np.uint64(1000) + a[i])
    return s


def test_mul_div_u64_x10000(benchmark) -> None:  # type: ignore[no-untyped-def]
    a = np.arange(1, 10_001, dtype=np.uint64) * np.uint64(1_000_003)
    assert benchmark(_muldiv_sum, a, 10_000) > 0
