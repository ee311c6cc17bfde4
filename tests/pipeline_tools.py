"""Processes the strategy-runtime tests put around a strategy: a market producer that never
drops a tick (it waits when the ring is full, so "no tick skipped" is exactly checkable) and
an intent drain that records every intent. Run as ``python tests/pipeline_tools.py ...``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
from numba import njit

from phantom_pipeline import ringops
from phantom_pipeline.atomics import cpu_pause, monotonic_ns
from phantom_pipeline.constants import MARKET_POOL_UPDATE
from phantom_pipeline.segments import RingEnd, attach_ring


@njit(cache=True)
def produce_ticks(st: Any, slots: Any, count: int, rate: int, n_pools: int) -> int:
    mask = st[ringops.ST_CAP] - 1
    t0 = monotonic_ns()
    for i in range(count):
        if rate > 0:
            due = t0 + (i * 1_000_000_000) // rate
            while monotonic_ns() < due:
                cpu_pause()
        while ringops.writable(st, 1) == 0:
            cpu_pause()
        idx = st[ringops.ST_OWN]
        rec = slots[idx & mask]
        rec.seq = idx
        rec.kind = MARKET_POOL_UPDATE
        rec.pool_id = i % n_pools
        rec.reserve_a = 1_000_000 + i
        rec.reserve_b = 2_000_000
        now = monotonic_ns()
        rec.t_recv_ns = now
        rec.t_pub_ns = now
        ringops.publish(st, 1)
    return count


@njit(cache=True)
def drain_intents(
    st: Any, slots: Any, ticks: Any, epochs: Any, seqs: Any, want_ticks: int, timeout_ns: int
) -> int:
    """Record intents until ``want_ticks`` distinct... simply until the highest tick seq seen
    reaches want_ticks - 1 (the echo strategy emits one intent per tick), or a silence of
    ``timeout_ns``. Returns how many intents were recorded."""
    mask = st[ringops.ST_CAP] - 1
    n = 0
    while n < ticks.shape[0]:
        k = ringops.wait_available(st, ringops.WAIT_ADAPTIVE, 2000, 16, 10_000_000, timeout_ns)
        if k == 0:
            return n
        base = st[ringops.ST_OWN]
        done = False
        for j in range(k):
            if n >= ticks.shape[0]:
                break
            rec = slots[(base + j) & mask]
            ticks[n] = rec.tick_seq
            epochs[n] = rec.epoch
            seqs[n] = rec.seq
            n += 1
            if rec.tick_seq >= want_ticks - 1:
                done = True
        ringops.release(st, k)
        if done:
            return n
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--ring", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--rate", type=int, default=0)
    p.add_argument("--pools", type=int, default=4)
    d = sub.add_parser("drain")
    d.add_argument("--ring", required=True)
    d.add_argument("--ticks", type=int, required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--timeout-s", type=float, default=120)
    a = ap.parse_args(argv)
    if a.cmd == "produce":
        end = RingEnd(attach_ring(a.ring, "MarketUpdate"), "producer")
        print("ready", flush=True)
        produce_ticks(end.state, end.slots, a.count, a.rate, a.pools)
        return 0
    end = RingEnd(attach_ring(a.ring, "OrderIntent"), "consumer")
    cap = a.ticks * 2 + 1024
    ticks = np.zeros(cap, dtype=np.int64)
    epochs = np.zeros(cap, dtype=np.int64)
    seqs = np.zeros(cap, dtype=np.int64)
    print("ready", flush=True)
    n = drain_intents(end.state, end.slots, ticks, epochs, seqs, a.ticks, int(a.timeout_s * 1e9))
    np.savez(a.out, ticks=ticks[:n], epochs=epochs[:n], seqs=seqs[:n])
    return 0


if __name__ == "__main__":
    sys.exit(main())
