"""The ring benchmark: latency and throughput across processes, Rust and numba ends, with
``multiprocessing.Queue`` and ``multiprocessing.Pipe`` measured beside them in the same run.

Figures are reported as measured and as ratios to a baseline from the same run (the Rust
floor), because absolute numbers on a shared 2-core machine are noise-dominated. Latency is
one-way (receiver's CLOCK_MONOTONIC minus the sender's timestamp in the record) in a paced
ping-pong: the next probe leaves only when the previous one came back, so no queueing is
measured. Throughput is 64-byte records in batches, from the first record to the last.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from phantom_bench import tool
from phantom_pipeline import _native
from phantom_pipeline.segments import create_ring

Progress = Callable[[str], None]


def _run(args: list[str], timeout: float = 600) -> dict[str, Any]:
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} ... failed: {p.stderr.strip()}")
    return json.loads(p.stdout)  # type: ignore[no-any-return]


def _pair(
    cmd_a: list[str], cmd_b: list[str], timeout: float = 600
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run two processes at once (a first); return both JSON results."""
    a = subprocess.Popen(cmd_a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        b = subprocess.run(cmd_b, capture_output=True, text=True, timeout=timeout, check=False)
        out_a, err_a = a.communicate(timeout=timeout)
    finally:
        if a.poll() is None:
            a.kill()
            a.communicate()
    if a.returncode != 0 or b.returncode != 0:
        raise RuntimeError(f"benchmark process failed: {err_a.strip()} {b.stderr.strip()}")
    return json.loads(out_a), json.loads(b.stdout)


class _Rings:
    """Fresh rings under a private instance name, removed on exit."""

    def __init__(self) -> None:
        self.instance = f"bench{os.getpid()}x{uuid.uuid4().hex[:6]}"
        self.names: list[str] = []

    def ring(self, role: str, capacity: int) -> str:
        name = _native.segment_name(self.instance, role)
        create_ring(name, "ProbeRecord", capacity, instance=self.instance, role=role)
        self.names.append(name)
        return name

    def __enter__(self) -> _Rings:
        return self

    def __exit__(self, *exc: object) -> None:
        for n in self.names:
            with contextlib.suppress(_native.SegmentError):
                _native.remove_segment(n)


def _py(*args: str) -> list[str]:
    return [sys.executable, "-m", "phantom_bench.probe", *args]


def ring_latency(pings: int, echo: str) -> dict[str, Any]:
    """One-way latency, Rust pinger → ``echo`` side ("rust" or "numba") in a paced ping-pong."""
    ring_tool = str(tool("phantom-ring"))
    with _Rings() as r:
        ping, pong = r.ring("ping", 1024), r.ring("pong", 1024)
        warmup = min(1000, pings // 10)
        if echo == "rust":
            echo_cmd = [
                ring_tool,
                "echo",
                "--in",
                ping,
                "--out",
                pong,
                "--count",
                str(pings),
                "--warmup",
                str(warmup),
                "--wait",
                "spin",
            ]
        else:
            echo_cmd = _py(
                "echo",
                "--in",
                ping,
                "--out",
                pong,
                "--count",
                str(pings),
                "--warmup",
                str(warmup),
                "--wait",
                "spin",
            )
        ping_cmd = [
            ring_tool,
            "ping",
            "--out",
            ping,
            "--back",
            pong,
            "--count",
            str(pings),
            "--wait",
            "spin",
        ]
        lat, _ = _pair(echo_cmd, ping_cmd)
        return lat


def ring_throughput(records: int, batch: int, sink: str) -> dict[str, Any]:
    """Records/s from a Rust source process to a ``sink`` ("rust" or "numba") process."""
    ring_tool = str(tool("phantom-ring"))
    with _Rings() as r:
        ring = r.ring("tput", 4096)
        args = ["--ring", ring, "--count", str(records), "--batch", str(batch)]
        sink_cmd = [ring_tool, "sink", *args] if sink == "rust" else _py("sink", *args)
        got, _ = _pair(sink_cmd, [ring_tool, "source", *args])
        return got


# ----------------------------------------------------------- multiprocessing baselines


def _queue_echo(q_in: Any, q_out: Any, n: int) -> None:
    for _ in range(n):
        q_out.put(q_in.get())


def _pipe_echo(conn: Any, n: int) -> None:
    for _ in range(n):
        conn.send_bytes(conn.recv_bytes())


def _stamp() -> bytes:
    return time.monotonic_ns().to_bytes(8, "little") + bytes(56)


def mp_latency(kind: str, pings: int) -> dict[str, Any]:
    """One-way latency of a 64-byte message through a multiprocessing Queue or Pipe (paced
    ping-pong, like the rings; the echo side stamps nothing, so one-way = RTT / 2)."""
    ctx = mp.get_context("spawn")
    rtts = []
    if kind == "queue":
        a, b = ctx.Queue(), ctx.Queue()
        p = ctx.Process(target=_queue_echo, args=(a, b, pings))
        p.start()
        for _ in range(pings):
            t = time.monotonic_ns()
            a.put(_stamp())
            b.get()
            rtts.append(time.monotonic_ns() - t)
    else:
        mine, theirs = ctx.Pipe()
        p = ctx.Process(target=_pipe_echo, args=(theirs, pings))
        p.start()
        for _ in range(pings):
            t = time.monotonic_ns()
            mine.send_bytes(_stamp())
            mine.recv_bytes()
            rtts.append(time.monotonic_ns() - t)
    p.join(timeout=120)
    one_way = sorted(x // 2 for x in rtts[min(100, pings // 10) :])
    return _pct(one_way)


def _queue_sink(q: Any, n: int, out: Any) -> None:
    q.get()
    t0 = time.monotonic_ns()
    for _ in range(n - 1):
        q.get()
    out.put(time.monotonic_ns() - t0)


def _pipe_sink(conn: Any, n: int, out: Any) -> None:
    conn.recv_bytes()
    t0 = time.monotonic_ns()
    for _ in range(n - 1):
        conn.recv_bytes()
    out.put(time.monotonic_ns() - t0)


def mp_throughput(kind: str, records: int) -> dict[str, Any]:
    """64-byte messages per second through a multiprocessing Queue or Pipe."""
    ctx = mp.get_context("spawn")
    result = ctx.Queue()
    msg = bytes(64)
    if kind == "queue":
        q = ctx.Queue(maxsize=4096)
        p = ctx.Process(target=_queue_sink, args=(q, records, result))
        p.start()
        for _ in range(records):
            q.put(msg)
    else:
        mine, theirs = ctx.Pipe()
        p = ctx.Process(target=_pipe_sink, args=(theirs, records, result))
        p.start()
        for _ in range(records):
            mine.send_bytes(msg)
    ns = int(result.get(timeout=600))
    p.join(timeout=120)
    return {"records": records, "ns": ns, "records_per_s": (records - 1) * 1e9 / max(ns, 1)}


def _pct(sorted_ns: list[int]) -> dict[str, Any]:
    if not sorted_ns:
        return {"samples": 0}

    def q(f: float) -> int:
        return sorted_ns[min(len(sorted_ns) - 1, int(f * len(sorted_ns)))]

    return {
        "samples": len(sorted_ns),
        "p50_ns": q(0.5),
        "p99_ns": q(0.99),
        "p999_ns": q(0.999),
        "max_ns": sorted_ns[-1],
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "pinned": False,
        "python": platform.python_version(),
    }


def run(full: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Run the whole ring benchmark; returns the report (see ``docs/benchmarks.md``)."""
    say = progress or (lambda _msg: None)
    pings = 200_000 if full else 20_000
    records = 200_000_000 if full else 20_000_000
    mp_pings = 20_000 if full else 2_000
    mp_records = 500_000 if full else 100_000

    say(f"latency: Rust → Rust floor ({pings} pings)")
    floor = ring_latency(pings, "rust")
    say(f"latency: Rust → numba ({pings} pings)")
    numba_lat = ring_latency(pings, "numba")
    say(f"latency: multiprocessing.Queue / Pipe ({mp_pings} pings)")
    q_lat = mp_latency("queue", mp_pings)
    p_lat = mp_latency("pipe", mp_pings)
    say(f"throughput: Rust → Rust ({records} records)")
    rr = ring_throughput(records, 256, "rust")
    say(f"throughput: Rust → numba ({records} records)")
    rn = ring_throughput(records, 256, "numba")
    say(f"throughput: multiprocessing.Queue / Pipe ({mp_records} records)")
    q_tp = mp_throughput("queue", mp_records)
    p_tp = mp_throughput("pipe", mp_records)

    def ratio(a: float, b: float) -> float:
        return round(a / b, 3) if b else float("inf")

    report = {
        "machine": machine(),
        "latency_one_way_ns": {
            "rust_to_rust": floor,
            "rust_to_numba": numba_lat,
            "mp_queue": q_lat,
            "mp_pipe": p_lat,
        },
        "throughput_records_per_s": {
            "rust_to_rust": rr["records_per_s"],
            "rust_to_numba": rn["records_per_s"],
            "mp_queue": q_tp["records_per_s"],
            "mp_pipe": p_tp["records_per_s"],
        },
        "ratios": {
            "numba_p50_over_rust_floor_p50": ratio(numba_lat["p50_ns"], floor["p50_ns"]),
            "numba_p99_over_rust_floor_p99": ratio(numba_lat["p99_ns"], floor["p99_ns"]),
            "mp_pipe_p50_over_numba_p50": ratio(p_lat["p50_ns"], numba_lat["p50_ns"]),
            "mp_queue_p50_over_numba_p50": ratio(q_lat["p50_ns"], numba_lat["p50_ns"]),
            "numba_tput_over_mp_pipe_tput": ratio(rn["records_per_s"], p_tp["records_per_s"]),
            "numba_tput_over_mp_queue_tput": ratio(rn["records_per_s"], q_tp["records_per_s"]),
        },
    }
    report["targets"] = {
        "numba_p50_within_1.5x_of_rust_floor": report["ratios"]["numba_p50_over_rust_floor_p50"]
        <= 1.5,
        "rust_to_numba_at_least_30M_per_s": rn["records_per_s"] >= 30e6,
        "rust_to_rust_at_least_100M_per_s": rr["records_per_s"] >= 100e6,
    }
    return report
