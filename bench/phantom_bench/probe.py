"""The probe workload: gapless, checksummed ``ProbeRecord`` streams driven from numba.

Used by the cross-process tests (a Rust ``phantom-ring`` process on one end of a ring, a
numba process on the other, every record verified) and by the ring benchmarks. The payload
and checksum are the same functions as ``ProbeRecord::for_seq`` in Rust.

Run as a process: ``python -m phantom_bench.probe {consume,produce,echo,throughput}
--ring NAME ...``; it prints one JSON object and exits non-zero if a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np
from numba import njit

from phantom_pipeline import _native, ringops
from phantom_pipeline.atomics import cpu_pause, monotonic_ns
from phantom_pipeline.segments import RingEnd, attach_ring

_U = np.uint64
_SEED = _U(0x5EED5EED5EED5EED)


@njit(cache=True, inline="always")
def splitmix64(x: Any) -> Any:
    z = x + _U(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U(30))) * _U(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U(27))) * _U(0x94D049BB133111EB)
    return z ^ (z >> _U(31))


@njit(cache=True, inline="always")
def payload_word(seq: Any, i: int) -> Any:
    return splitmix64(seq * _U(8) + _U(i))


@njit(cache=True, inline="always")
def rotl7(c: Any) -> Any:
    return (c << _U(7)) | (c >> _U(57))


@njit(cache=True)
def fill_probe(rec: Any, seq: int, t_send_ns: int) -> None:
    """Write the probe record for ``seq`` into ``rec`` (a record view of a slot)."""
    s = _U(seq)
    rec.seq = s
    rec.t_send_ns = _U(t_send_ns)
    c = s ^ _SEED
    for i in range(5):
        w = payload_word(s, i)
        rec.payload[i] = w
        c = rotl7(c) ^ w
    rec.checksum = c


@njit(cache=True)
def probe_valid(rec: Any) -> bool:
    """Whether ``rec``'s payload and checksum are those of its seq."""
    s = rec.seq
    c = s ^ _SEED
    for i in range(5):
        w = payload_word(s, i)
        if rec.payload[i] != w:
            return False
        c = rotl7(c) ^ w
    return bool(rec.checksum == c)


@njit(cache=True)
def consume_probes(
    st: Any, slots: Any, count: int, batch: int, strategy: int, timeout_ns: int
) -> tuple[int, int, int, int]:
    """Pop ``count`` probes, checking gapless seq and checksums.

    Returns (consumed, bad ring index or -1, t_first_ns, t_last_ns); a timeout with no new
    record returns early with bad index -2.
    """
    expect = 0
    mask = st[ringops.ST_CAP] - 1
    t_first = 0
    while expect < count:
        n = ringops.wait_available(st, strategy, 2000, 16, 100_000_000, timeout_ns)
        if n == 0:
            return expect, -2, t_first, monotonic_ns()
        if t_first == 0:
            t_first = monotonic_ns()
        k = min(n, batch, count - expect)
        base = st[ringops.ST_OWN]
        for j in range(k):
            rec = slots[(base + j) & mask]
            if rec.seq != _U(expect) or not probe_valid(rec):
                return expect, base + j, t_first, monotonic_ns()
            expect += 1
        ringops.release(st, k)
    return expect, -1, t_first, monotonic_ns()


@njit(cache=True)
def produce_probes(st: Any, slots: Any, count: int, batch: int, timeout_ns: int) -> int:
    """Push ``count`` probes in batches; returns how many (fewer if the ring stayed full for
    ``timeout_ns``)."""
    mask = st[ringops.ST_CAP] - 1
    seq = 0
    last_progress = monotonic_ns()
    spins = 0
    while seq < count:
        k = ringops.writable(st, min(batch, count - seq))
        if k == 0:
            cpu_pause()
            spins += 1
            if (spins & 1023) == 0 and monotonic_ns() - last_progress > timeout_ns:
                return seq
            continue
        base = st[ringops.ST_OWN]
        for j in range(k):
            fill_probe(slots[(base + j) & mask], seq + j, 0)
        ringops.publish(st, k)
        seq += k
        last_progress = monotonic_ns() if (seq & 0xFFFF) < k else last_progress
    return seq


@njit(cache=True)
def echo_probes(
    st_in: Any,
    slots_in: Any,
    st_out: Any,
    slots_out: Any,
    count: int,
    strategy: int,
    latencies: Any,
) -> int:
    """Receive ``count`` probes, record ``now - t_send_ns`` of each into ``latencies``, send
    each back. Returns how many were echoed (fewer on a 60 s silence)."""
    mask_in = st_in[ringops.ST_CAP] - 1
    mask_out = st_out[ringops.ST_CAP] - 1
    for i in range(count):
        if ringops.wait_available(st_in, strategy, 2000, 16, 100_000_000, 60_000_000_000) == 0:
            return i
        rec = slots_in[st_in[ringops.ST_OWN] & mask_in]
        # Read the record before taking the time, as the Rust echo does: the slot's cache
        # line crossing cores is part of the latency.
        t_send = np.int64(rec.t_send_ns)
        latencies[i] = monotonic_ns() - t_send
        while ringops.writable(st_out, 1) == 0:
            cpu_pause()
        out = slots_out[st_out[ringops.ST_OWN] & mask_out]
        out.seq = rec.seq
        out.t_send_ns = rec.t_send_ns
        for w in range(5):
            out.payload[w] = rec.payload[w]
        out.checksum = rec.checksum
        ringops.release(st_in, 1)
        ringops.publish(st_out, 1)
    return count


@njit(cache=True)
def sink_seqs(st: Any, slots: Any, count: int, batch: int) -> tuple[int, int]:
    """Throughput sink: pop ``count`` records in batches (spinning), summing ``seq``.
    Returns (ns from the first record to the last, sum of seqs)."""
    mask = st[ringops.ST_CAP] - 1
    got = 0
    total = _U(0)
    t0 = 0
    while got < count:
        k = min(ringops.available(st), batch)
        if k == 0:
            cpu_pause()
            continue
        if t0 == 0:
            t0 = monotonic_ns()
        base = st[ringops.ST_OWN]
        for j in range(k):
            total += slots[(base + j) & mask].seq
        ringops.release(st, k)
        got += k
    return monotonic_ns() - t0, int(total)


@njit(cache=True)
def source_seqs(st: Any, slots: Any, count: int, batch: int) -> int:
    """Throughput source: push ``count`` records (only ``seq`` written) in batches."""
    mask = st[ringops.ST_CAP] - 1
    seq = 0
    while seq < count:
        k = ringops.writable(st, min(batch, count - seq))
        if k == 0:
            cpu_pause()
            continue
        base = st[ringops.ST_OWN]
        for j in range(k):
            slots[(base + j) & mask].seq = _U(seq + j)
        ringops.publish(st, k)
        seq += k
    return seq


def _percentiles(lat: np.ndarray[Any, Any]) -> dict[str, int]:
    if lat.size == 0:
        return {"samples": 0}
    q = np.percentile(lat, [50, 99, 99.9])
    return {
        "samples": int(lat.size),
        "p50_ns": int(q[0]),
        "p99_ns": int(q[1]),
        "p999_ns": int(q[2]),
        "max_ns": int(lat.max()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m phantom_bench.probe")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("consume")
    c.add_argument("--ring", required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--batch", type=int, default=256)
    c.add_argument("--wait", choices=["spin", "adaptive"], default="adaptive")
    c.add_argument("--timeout-s", type=float, default=120.0)
    p = sub.add_parser("produce")
    p.add_argument("--ring", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--timeout-s", type=float, default=120.0)
    e = sub.add_parser("echo")
    e.add_argument("--in", dest="inp", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--count", type=int, required=True)
    e.add_argument("--warmup", type=int, default=1000)
    e.add_argument("--wait", choices=["spin", "adaptive"], default="spin")
    for sub_name in ("sink", "source"):
        t = sub.add_parser(sub_name)
        t.add_argument("--ring", required=True)
        t.add_argument("--count", type=int, required=True)
        t.add_argument("--batch", type=int, default=256)
    sub.add_parser("warm", help="compile (or load from the cache) every function, report")
    a = ap.parse_args(argv)

    if a.cmd == "consume":
        end = RingEnd(attach_ring(a.ring, "ProbeRecord"), "consumer")
        strategy = ringops.WAIT_SPIN if a.wait == "spin" else ringops.WAIT_ADAPTIVE
        n, bad, t0, t1 = consume_probes(
            end.state, end.slots, a.count, a.batch, strategy, int(a.timeout_s * 1e9)
        )
        out: dict[str, Any] = {"consumed": int(n), "ns": int(t1 - t0), "head": end.index}
        if bad != -1 or n != a.count:
            why = "timeout" if bad == -2 else f"bad record at ring index {bad}"
            print(json.dumps(out), file=sys.stdout)
            print(f"probe consume: {why} after {n} of {a.count}", file=sys.stderr)
            return 1
        out["verified"] = True
        print(json.dumps(out))
        return 0
    if a.cmd == "produce":
        end = RingEnd(attach_ring(a.ring, "ProbeRecord"), "producer")
        t0 = _native.monotonic_ns()
        n = produce_probes(end.state, end.slots, a.count, a.batch, int(a.timeout_s * 1e9))
        dt = _native.monotonic_ns() - t0
        print(json.dumps({"produced": int(n), "ns": int(dt), "tail": end.index}))
        if n != a.count:
            print(f"probe produce: ring stayed full after {n} of {a.count}", file=sys.stderr)
            return 1
        return 0
    if a.cmd == "echo":
        rx = RingEnd(attach_ring(a.inp, "ProbeRecord"), "consumer")
        tx = RingEnd(attach_ring(a.out, "ProbeRecord"), "producer")
        lat = np.zeros(a.count, dtype=np.int64)
        strategy = ringops.WAIT_SPIN if a.wait == "spin" else ringops.WAIT_ADAPTIVE
        n = echo_probes(rx.state, rx.slots, tx.state, tx.slots, a.count, strategy, lat)
        print(json.dumps(_percentiles(lat[min(a.warmup, n) : n])))
        return 0 if n == a.count else 1
    if a.cmd == "sink":
        end = RingEnd(attach_ring(a.ring, "ProbeRecord"), "consumer")
        ns, total = sink_seqs(end.state, end.slots, a.count, a.batch)
        expect = a.count * (a.count - 1) // 2
        print(json.dumps({"records": a.count, "ns": int(ns), "records_per_s": a.count * 1e9 / ns}))
        if total != expect:
            print(f"probe sink: sum of seqs {total} != {expect}", file=sys.stderr)
            return 1
        return 0
    if a.cmd == "source":
        end = RingEnd(attach_ring(a.ring, "ProbeRecord"), "producer")
        print(json.dumps({"produced": int(source_seqs(end.state, end.slots, a.count, a.batch))}))
        return 0
    if a.cmd == "warm":
        print(json.dumps(warm()))
        return 0
    return 2  # pragma: no cover - argparse enforces the choices


def warm() -> dict[str, dict[str, int]]:
    """Run every probe and ring function once on a private ring; report numba cache stats
    (hits = loaded from the on-disk cache, misses = compiled here)."""
    import os

    from phantom_pipeline.segments import create_ring

    name = f"phantom-warm{os.getpid()}-probe"
    view = create_ring(name, "ProbeRecord", 64)
    try:
        tx = RingEnd(view, "producer")
        rx = RingEnd(attach_ring(name, "ProbeRecord"), "consumer")
        produce_probes(tx.state, tx.slots, 10, 4, 1_000_000_000)
        consume_probes(rx.state, rx.slots, 10, 4, ringops.WAIT_ADAPTIVE, 1_000_000_000)
        row = np.zeros((1, view.record_size), dtype=np.uint8)
        ringops.try_push_bytes(tx.state, tx.slot_bytes, row[0])
        ringops.try_pop_bytes(rx.state, rx.slot_bytes, row[0])
    finally:
        _native.remove_segment(name)
    stats = {}
    for fn in (produce_probes, consume_probes, ringops.try_push_bytes, ringops.try_pop_bytes):
        s = fn.stats
        stats[fn.__name__] = {
            "cache_hits": int(sum(s.cache_hits.values())),
            "cache_misses": int(sum(s.cache_misses.values())),
        }
    return stats


if __name__ == "__main__":
    sys.exit(main())
