"""The end-to-end benchmark harness (DESIGN §7 ``bench --json``, §8 targets).

For every system and offered rate: a fresh simulator (same seed, so the same market stream)
holds its market until the system is ready, then sends for ``duration`` seconds while logging
the send time of every notification frame (``--send-log``); the system decodes, runs the
two-pool arbitrage maths and signs; the harness joins every signed transaction back to the
frame that caused it and measures from the simulator's send (queueing included).

Joins: the simulator's log gives, per connection, the k-th notification frame's send time.
phantom's feeder writes its own position log (``--frame-log``: receive time → k on its
connection) and the signer's capture carries the tick's receive time, so a signed
transaction → its tick's ``t_recv_ns`` → k → the send time. The comparison systems report
k directly (``e2e/pysystems.py``, ``phantom-allrust``). Percentiles come from HDR histograms.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from phantom_bench import tool
from phantom_bench.ring import machine
from phantom_pipeline.binaries import executable
from phantom_pipeline.cpuacct import CpuSampler, cpu_ns

SYSTEMS = (
    "phantom-spin",
    "phantom-adaptive",
    "all-rust",
    "pure-python",
    "pure-python-tuned",
    "mp-queue",
    "zmq-msgpack",
)
RATES_DEFAULT = (10_000, 100_000, 1_000_000)
PHANTOM_HOPS = ("sent_to_recv", "recv_to_pub", "pub_to_strategy", "strategy_to_intent",
                "intent_to_signer", "signer_to_signed")  # fmt: skip
OTHER_HOPS = ("sent_to_recv", "recv_to_decoded", "decoded_to_decision", "decision_to_signed")
SEND_LOG = np.dtype([("t", "<u8"), ("slot", "<u8"), ("account", "<u4"), ("conn", "<u4")])
FRAME_LOG = np.dtype([("t", "<u8"), ("idx", "<u4"), ("endpoint", "u1"), ("conn", "u1"),
                      ("kind", "u1"), ("_r", "u1")])  # fmt: skip
# The signer refuses nothing the benchmark offers: every opportunity is signed.
BENCH_LIMITS = {
    "max_intents_per_second": 1_000_000,
    "max_open_intents": 1_000_000,
    "max_tick_age_ms": 3_600_000,
    "max_notional_per_minute_raw": 10**18,
    "max_lamports_per_minute": 10**15,
    "max_lamports_per_day": 10**16,
}
Progress = Callable[[str], None]


class BenchError(RuntimeError):
    """The benchmark could not run a system (the message says which and why)."""


def percentiles(values: np.ndarray[Any, Any]) -> dict[str, int]:
    """p50/p90/p99/p99.9/max of nanosecond values from an HDR histogram (3 significant
    digits); ``count`` is the number of samples."""
    from hdrh.histogram import HdrHistogram

    out = {"count": int(values.size)}
    if values.size == 0:
        return out
    v = np.clip(values.astype(np.int64), 1, None)
    h = HdrHistogram(1, max(int(v.max()), 2), 3)
    for x in v.tolist():
        h.record_value(x)
    top = int(v.max())
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        # HDR reports a bucket's highest equivalent value: never above the exact maximum.
        out[name] = min(int(h.get_value_at_percentile(p)), top)
    out["max"] = top
    return out


def send_times(send_log: Path) -> dict[int, np.ndarray[Any, Any]]:
    """Per connection ordinal (0 = the first connection that received a frame): the send
    time of its k-th notification frame at index k."""
    log = np.fromfile(send_log, dtype=SEND_LOG)
    out: dict[int, np.ndarray[Any, Any]] = {}
    for ordinal, conn in enumerate(np.unique(log["conn"])):
        out[ordinal] = log["t"][log["conn"] == conn]
    return out


def account_frames(send_log: Path) -> int:
    log = np.fromfile(send_log, dtype=SEND_LOG)
    return int((log["account"] != 0xFFFFFFFF).sum())


Arr = np.ndarray[Any, Any]


def join_phantom(frame_log: Path, capture: Path, sends: dict[int, Arr]) -> dict[str, Arr]:
    """Per signed transaction of a phantom run: the frame's send time and each hop's time.
    Transactions whose tick came from no frame (the refetch at connect) are left out."""
    flog = np.fromfile(frame_log, dtype=FRAME_LOG)
    order = np.argsort(flog["t"], kind="stable")
    ft = flog["t"][order]
    cols: dict[str, list[int]] = {k: [] for k in (
        "t_send", "t_tick_recv_ns", "t_tick_pub_ns", "t_strategy_read_ns", "t_intent_ns",
        "t_intent_read_ns", "t_signed_ns")}  # fmt: skip
    with open(capture) as f:
        for line in f:
            rec = json.loads(line)
            t = int(rec["t_tick_recv_ns"])
            i = int(np.searchsorted(ft, t))
            if i >= ft.size or int(ft[i]) != t:
                continue
            fr = flog[order[i]]
            sent = sends.get(int(fr["conn"]))
            k = int(fr["idx"])
            if sent is None or k >= sent.size:
                continue
            cols["t_send"].append(int(sent[k]))
            for key in list(cols)[1:]:
                cols[key].append(int(rec[key]))
    return {k: np.array(v, dtype=np.int64) for k, v in cols.items()}


def phantom_hops(j: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
    chain = ("t_send", "t_tick_recv_ns", "t_tick_pub_ns", "t_strategy_read_ns", "t_intent_ns",
             "t_intent_read_ns", "t_signed_ns")  # fmt: skip
    hops = {h: j[b] - j[a] for h, a, b in zip(PHANTOM_HOPS, chain, chain[1:], strict=False)}
    hops["sent_to_signed"] = j["t_signed_ns"] - j["t_send"]
    return hops


def other_hops(signed: list[list[int]], sends: dict[int, Arr]) -> dict[str, Arr]:
    """Hops of a system that reports ``[frame_idx, t_recv, t_decoded, t_decision, t_signed]``
    per signed transaction on its one connection."""
    sent = sends.get(0, np.zeros(0, dtype=np.uint64))
    rows = np.array([r for r in signed if r[0] < sent.size], dtype=np.int64).reshape(-1, 5)
    t_send = sent[rows[:, 0]].astype(np.int64) if rows.size else np.zeros(0, np.int64)
    chain = [t_send, rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]]
    hops = {h: b - a for h, a, b in zip(OTHER_HOPS, chain, chain[1:], strict=False)}
    hops["sent_to_signed"] = rows[:, 4] - t_send
    return hops


# ---------------------------------------------------------------- process accounting


def _peak_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Usage:
    """CPU time and peak RSS of a set of processes over a window (``cpuacct``: every thread's
    time on the CPU, from ``/proc``)."""

    pids: dict[str, int]
    sampler: CpuSampler = field(init=False)
    t0: float = 0.0

    def __post_init__(self) -> None:
        self.sampler = CpuSampler(dict(self.pids))

    def begin(self) -> None:
        self.sampler.begin()
        self.t0 = time.monotonic()

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds each process used since :meth:`begin`."""
        return {k: v / 1e9 for k, v in self.sampler.used_ns().items()}

    def cpu_pct(self, used: dict[str, float] | None = None) -> dict[str, float]:
        wall = max(time.monotonic() - self.t0, 1e-9)
        used = self.cpu_s() if used is None else used
        return {k: round(100 * v / wall, 1) for k, v in used.items()}

    def rss(self) -> dict[str, int]:
        return {k: _peak_rss(p) for k, p in self.pids.items() if p != os.getpid()}

    def busy_ns(self) -> int:
        return sum(cpu_ns(p) or 0 for p in self.pids.values())


def cpu_cost(used_s: dict[str, float], updates: int, signed: int) -> dict[str, Any]:
    """CPU µs per delivered update and per signed transaction, summed over the system's
    processes (``used_s``: CPU seconds each used over the run and its drain)."""
    total = sum(used_s.values())
    return {
        "cpu_s": {k: round(v, 4) for k, v in used_s.items()},
        "cpu_us_per_update": round(total * 1e6 / updates, 2) if updates > 0 else None,
        "cpu_us_per_signed": round(total * 1e6 / signed, 1) if signed > 0 else None,
    }


def wait_idle(usage: Usage, max_s: float, done: Callable[[], bool] | None = None) -> None:
    """Wait until the system has drained: ``done()`` is true, or its processes used < 5 % of
    a core over 200 ms, or ``max_s`` passed."""
    deadline = time.monotonic() + max_s
    last = usage.busy_ns()
    while time.monotonic() < deadline:
        if done is not None and done():
            return
        time.sleep(0.2)
        now = usage.busy_ns()
        if done is None and (now - last) < 10_000_000:
            return
        last = now


# ---------------------------------------------------------------- one run


@dataclass
class Run:
    """One system at one offered rate."""

    system: str
    rate: int
    duration_s: float
    workdir: Path
    seed: int = 7
    drain_s: float = 10.0
    progress: Progress = lambda _m: None
    cpus: list[int] | None = None
    #: Where the phantom processes ran (None: unpinned).
    placed: list[int] | None = None
    #: ``[supervisor] placement`` for the phantom systems (None: the config's default).
    placement: str | None = None

    def start_sim(self) -> tuple[subprocess.Popen[str], dict[str, Any], Path]:
        log = self.workdir / "send.log"
        sim = subprocess.Popen(
            [str(executable("phantom-sim")), "--port", "0", "--rate", str(self.rate),
             "--seed", str(self.seed), "--duration-s", str(self.duration_s),
             "--send-log", str(log), "--start-on-stdin", "--hold",
             "--dislocation-probability", "0.05", "--dislocation", "0.02"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(self.workdir / "sim.log", "wb"),  # noqa: SIM115
            text=True, start_new_session=True,
        )  # fmt: skip
        assert sim.stdout is not None
        line = sim.stdout.readline()
        if not line:
            sim.kill()
            raise BenchError(f"the simulator did not start: see {self.workdir / 'sim.log'}")
        return sim, json.loads(line), log

    def config(self, ready: dict[str, Any], wait: str | None = None) -> Path:
        from phantom_pipeline.embedded import default_config

        key = self.workdir / "key.json"
        if not key.exists():
            r = subprocess.run([str(executable("phantom-signer")), "--generate-keypair", str(key)],
                               capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
            if r.returncode != 0:
                raise BenchError(f"cannot make a key: {r.stderr.strip()}")
        path = self.workdir / "config.toml"
        path.write_text(default_config(ready, self.workdir, key, wait=wait, limits=BENCH_LIMITS))
        return path

    def execute(self) -> dict[str, Any]:
        sim, ready, send_log = self.start_sim()
        try:
            if self.system.startswith("phantom-"):
                return self._phantom(sim, ready, send_log)
            return self._external(sim, ready, send_log)
        finally:
            if sim.poll() is None:
                sim.kill()
            sim.wait(timeout=30)

    def _market(self, sim: subprocess.Popen[str], usage: Usage, poll: Callable[[], None],
                idle: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        """Start the market, let it run its duration, keep the system supervised (``poll``
        then ``idle`` for the supervisor's poll interval, as ``Supervisor.run`` does)."""
        from phantom_pipeline.supervisor import POLL_INTERVAL_S

        assert sim.stdin is not None
        usage.begin()
        sim.stdin.write("start\n")
        sim.stdin.flush()
        end = time.monotonic() + self.duration_s
        while time.monotonic() < end:
            poll()
            idle(min(POLL_INTERVAL_S, max(0.0, end - time.monotonic())))

    def _phantom(self, sim: subprocess.Popen[str], ready: dict[str, Any],
                 send_log: Path) -> dict[str, Any]:  # fmt: skip
        from phantom_pipeline import config as cfgmod
        from phantom_pipeline.constants import LEASE_HELD
        from phantom_pipeline.segments import TableView
        from phantom_pipeline.supervisor import Supervisor

        wait = self.system.removeprefix("phantom-")
        cfg = cfgmod.load(self.config(ready, wait=wait))
        instance = f"bench{uuid.uuid4().hex[:8]}"
        frame_log = self.workdir / "frames.log"
        # Placed as ``start`` places them: --cpus when given, else [supervisor] placement.
        if self.placement is not None:
            cfg.supervisor.placement = self.placement
        cpus = self.cpus or cfgmod.auto_cpus(cfg, sorted(os.sched_getaffinity(0)))
        self.placed = cpus
        sup = Supervisor(cfg, instance, cpus, feeder_args=["--frame-log", str(frame_log)])
        sup.start()
        try:
            assert sup.segments is not None
            c, seg = sup.segments.control, sup.segments
            table = TableView(seg.pools)

            def up() -> bool:
                sup.poll()
                return (
                    c.load("lease_state") == LEASE_HELD
                    and c.load("hb_signer_ns") > 0
                    and all(int(table.read(i)["ready"]) == 1 for i in range(cfg.n_pools))
                )

            deadline = time.monotonic() + 180
            while not up():
                if time.monotonic() > deadline:
                    raise BenchError(f"{self.system} did not come up in 180 s; logs in {sup.dir}")
                time.sleep(0.01)
            # The supervisor's loop runs in this process (``sup.poll``, then ``sup.idle`` for
            # its poll interval, as ``Supervisor.run`` does), and nothing else does while the
            # market runs: its CPU is the supervisor's.
            pids = {n: ch.pid for n, ch in sup.children.items()} | {"supervisor": os.getpid()}
            usage = Usage(pids)
            self._market(sim, usage, sup.poll, sup.idle)

            def drained() -> bool:
                # Every frame the simulator sent (it keeps sending what it had queued after
                # the market ends) is in the feeder's position log, and both rings are empty.
                sup.poll()
                sent = send_log.stat().st_size // SEND_LOG.itemsize
                seen = frame_log.stat().st_size // FRAME_LOG.itemsize if frame_log.exists() else 0
                return (
                    seen >= sent
                    and seg.market.hdr("tail") == seg.market.hdr("head")
                    and seg.intents.hdr("tail") == seg.intents.hdr("head")
                )

            wait_idle(usage, self.drain_s, drained)
            used = usage.cpu_s()
            cpu, rss = usage.cpu_pct(used), usage.rss()
            processed = c.load("feeder_notifications")
            extra: dict[str, Any] = {
                "ticks": seg.market.hdr("tail"),
                "intents": c.load("strategy_intents"),
                "signed": c.load("signer_signed"),
                "rejected": c.load("signer_rejected"),
                "market_overflows": seg.market.hdr("overflows") + c.load("feeder_overflows"),
            }
            extra |= cpu_cost(used, processed, extra["signed"])
        finally:
            sup.shutdown()
        shutil.rmtree(sup.dir, ignore_errors=True)  # kept (with its logs) when the run failed
        capture = self.workdir / "capture.jsonl"
        sends = send_times(send_log)
        hops = phantom_hops(join_phantom(frame_log, capture, sends))
        extra["placement"] = self.placed
        return self._result(send_log, processed, hops, cpu, rss, extra)

    def _external(self, sim: subprocess.Popen[str], ready: dict[str, Any],
                  send_log: Path) -> dict[str, Any]:  # fmt: skip
        cfg = self.config(ready)
        out = self.workdir / "out.json"
        if self.system == "all-rust":
            argv = [str(tool("phantom-allrust"))]
        else:
            argv = [sys.executable, "-m", "phantom_bench.e2e.pysystems", "--system",
                    self.system]  # fmt: skip
        argv += ["--config", str(cfg), "--out", str(out)]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=open(self.workdir / "system.log", "wb"),  # noqa: SIM115
                                text=True, start_new_session=True)  # fmt: skip
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "READY":
                raise BenchError(f"{self.system} did not get ready (said {line!r}); see "
                                 f"{self.workdir / 'system.log'}")  # fmt: skip
            usage = Usage(self._tree(proc.pid))
            self._market(sim, usage, lambda: None)
            wait_idle(usage, self.drain_s)
            used = usage.cpu_s()
            cpu, rss = usage.cpu_pct(used), usage.rss()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        if proc.returncode != 0 or not out.exists():
            raise BenchError(f"{self.system} exited with {proc.returncode} and no report; see "
                             f"{self.workdir / 'system.log'}")  # fmt: skip
        rep = json.loads(out.read_text())
        sends = send_times(send_log)
        hops = other_hops(rep["signed"], sends)
        extra: dict[str, Any] = {"ticks": rep.get("ticks", 0), "intents": rep.get("intents", 0),
                 "signed": len(rep["signed"]), "errors": rep.get("errors", 0)}  # fmt: skip
        # frames counts slot notifications too; the sent count is account frames: compare like
        # with like through the log.
        slot_frames = int((np.fromfile(send_log, dtype=SEND_LOG)["account"] == 0xFFFFFFFF).sum())
        processed = max(0, int(rep.get("frames", 0)) - slot_frames)
        extra |= cpu_cost(used, processed, extra["signed"])
        return self._result(send_log, processed, hops, cpu, rss, extra)

    @staticmethod
    def _tree(pid: int) -> dict[str, int]:
        """The process and its children (the multi-process systems' roles)."""
        pids = {"main": pid}
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                for i, child in enumerate(f.read().split()):
                    pids[f"child{i}"] = int(child)
        except OSError:
            pass
        return pids

    def _result(self, send_log: Path, processed: int, hops: dict[str, np.ndarray[Any, Any]],
                cpu: dict[str, float], rss: dict[str, int],
                extra: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        sent = account_frames(send_log)
        return {
            "offered": self.rate,
            "sent": round(sent / self.duration_s),
            "achieved": round(min(processed, sent) / self.duration_s),
            "lost": max(0, sent - processed),
            "sent_to_signed_ns": percentiles(hops.pop("sent_to_signed")),
            "hops": {h: percentiles(v) for h, v in hops.items()},
            "cpu_pct": cpu,
            "rss_bytes": rss,
            **extra,
        }


# ---------------------------------------------------------------- the whole benchmark


def skip_reason(system: str, cores: int) -> str | None:
    """Why a system cannot run fairly here (None: it can)."""
    if system == "phantom-spin" and cores < 5:
        return (f"needs a core for each of its 3 spinners plus the simulator and the harness; "
                f"this machine has {cores}")  # fmt: skip
    if system == "zmq-msgpack":
        try:
            import msgpack  # noqa: F401
            import zmq  # noqa: F401
        except ImportError as e:
            return f"{e.name} is not installed"
    if system in ("pure-python", "pure-python-tuned", "mp-queue", "zmq-msgpack"):
        for mod in ("websockets", "solders", "nacl"):
            try:
                __import__(mod)
            except ImportError:
                return f"{mod} is not installed"
    return None


def idle_cpu(seconds: float, workdir: Path, progress: Progress) -> dict[str, Any]:
    """CPU use of phantom-adaptive's processes with a quiet market (one update a second)."""
    run = Run("phantom-adaptive", 1, seconds, workdir, progress=progress)
    sim, ready, _ = run.start_sim()
    from phantom_pipeline import config as cfgmod
    from phantom_pipeline.supervisor import Supervisor

    try:
        cfg = cfgmod.load(run.config(ready, wait="adaptive"))
        sup = Supervisor(cfg, f"idle{uuid.uuid4().hex[:8]}", None)
        sup.start()
        try:
            assert sup.segments is not None
            c = sup.segments.control
            deadline = time.monotonic() + 180
            while c.load("hb_strategy_ns") == 0 or c.load("hb_signer_ns") == 0:
                sup.poll()
                if time.monotonic() > deadline:
                    raise BenchError("the idle run did not come up in 180 s")
                time.sleep(0.01)
            # Let start-up work (numba load, refetch) finish before measuring.
            settle = time.monotonic() + 2
            while time.monotonic() < settle:
                sup.poll()
                time.sleep(0.01)
            usage = Usage(
                {n: ch.pid for n, ch in sup.children.items()} | {"supervisor": os.getpid()}
            )  # its loop runs here (see _phantom)
            run._market(sim, usage, sup.poll, sup.idle)
            cpu = usage.cpu_pct()
        finally:
            sup.shutdown()
        shutil.rmtree(sup.dir, ignore_errors=True)
    finally:
        sim.kill()
        sim.wait(timeout=30)
    return {"seconds": seconds, "cpu_pct": cpu, "target_pct": 1.0,
            "met": all(v < 1.0 for v in cpu.values())}  # fmt: skip


def ratios(report: dict[str, Any], base: str = "phantom-adaptive") -> dict[str, Any]:
    """Every system's p50/p99 sent→signed over phantom's, per rate (> 1: phantom is faster)."""
    systems = report["systems"]
    if base not in systems or "rates" not in systems[base]:
        return {}
    out: dict[str, Any] = {}
    for name, s in systems.items():
        if name == base or "rates" not in s:
            continue
        per: dict[str, Any] = {}
        for rate, r in s["rates"].items():
            b = systems[base]["rates"].get(rate, {}).get("sent_to_signed_ns", {})
            o = r["sent_to_signed_ns"]
            if "p50" in b and "p50" in o:
                per[rate] = {"p50": round(o["p50"] / b["p50"], 2),
                             "p99": round(o["p99"] / b["p99"], 2)}  # fmt: skip
        out[name] = per
    return out


def targets(report: dict[str, Any], base: str = "phantom-adaptive") -> dict[str, bool | None]:
    """DESIGN §8 targets that this run can judge (None: not measurable here)."""
    s = report["systems"]
    rates = sorted(int(r) for r in s.get(base, {}).get("rates", {}))
    if not rates:
        return {}
    lo = str(rates[0])

    def p(name: str, pct: str, rate: str = lo) -> int | None:
        v = s.get(name, {}).get("rates", {}).get(rate, {}).get("sent_to_signed_ns", {})
        got = v.get(pct)
        return None if got is None else int(got)

    def ratio(name: str, pct: str, rate: str = lo) -> float | None:
        a, b = p(name, pct, rate), p(base, pct, rate)
        return None if a is None or b is None else a / b

    def at_least(x: float | None, k: float) -> bool | None:
        return None if x is None else x >= k

    hybrid_vs_rust = ratio("all-rust", "p50")
    out: dict[str, bool | None] = {
        "sent→signed p50 ≤ 25 µs (absolute: a core per spinner only)": (
            None if p(base, "p50") is None else p(base, "p50") <= 25_000  # type: ignore[operator]
        ),
        "hybrid p50 ≤ 1.2x all-rust": (
            None if hybrid_vs_rust is None else 1 / hybrid_vs_rust <= 1.2
        ),
        "≥ 5x lower p50 than pure-python": at_least(ratio("pure-python", "p50"), 5),
        "≥ 10x lower p99 than pure-python": at_least(ratio("pure-python", "p99"), 10),
        "≥ 1.3x lower p50 than pure-python-tuned": at_least(ratio("pure-python-tuned", "p50"), 1.3),
        "≥ 4x lower p99 than pure-python-tuned": at_least(ratio("pure-python-tuned", "p99"), 4),
        "ahead of mp-queue (p50)": at_least(ratio("mp-queue", "p50"), 1.0),
        "ahead of zmq-msgpack (p50)": at_least(ratio("zmq-msgpack", "p50"), 1.0),
    }
    if "100000" in s.get(base, {}).get("rates", {}):
        v = p(base, "p99", "100000")
        out["p99 ≤ 50 µs at 100 k/s offered"] = None if v is None else v <= 50_000
    top = str(rates[-1])
    r = s[base]["rates"][top]
    out[f"lossless into the strategy at {int(top):,}/s offered"] = (
        r["lost"] == 0 and r.get("market_overflows", 0) == 0
    )
    peaks = [max(x["rss_bytes"].get("feeder", 0), x["rss_bytes"].get("signer", 0))
             for x in s[base]["rates"].values() if "rss_bytes" in x]  # fmt: skip
    if peaks:
        out["feeder and signer RSS < 20 MB (at every rate)"] = max(peaks) < 20 << 20
    return out


def run(
    full: bool = False,
    systems: tuple[str, ...] = SYSTEMS,
    rates: tuple[int, ...] = RATES_DEFAULT,
    duration_s: float | None = None,
    idle_s: float | None = None,
    progress: Progress | None = None,
    workdir: Path | None = None,
    cpus: list[int] | None = None,
    placement: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns the DESIGN §7 ``bench --json`` report. ``placement``
    overrides ``[supervisor] placement`` of the phantom systems (``auto`` or ``off``)."""
    say = progress or (lambda _m: None)
    duration = duration_s if duration_s is not None else (10.0 if full else 1.5)
    idle = idle_s if idle_s is not None else (10.0 if full else 3.0)
    cores = len(os.sched_getaffinity(0))
    m = machine()
    m["pinned"] = bool(cpus)
    report: dict[str, Any] = {"machine": m, "duration_s": duration, "systems": {}}
    with contextlib.ExitStack() as stack:
        base = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        for name in systems:
            reason = skip_reason(name, cores)
            if reason is not None:
                report["systems"][name] = {"skipped": reason}
                say(f"{name}: skipped ({reason})")
                continue
            entry: dict[str, Any] = {"rates": {}}
            for rate in rates:
                d = base / f"{name}-{rate}"
                d.mkdir(parents=True, exist_ok=True)
                say(f"{name} at {rate:,}/s offered for {duration} s")
                try:
                    res = Run(name, rate, duration, d, progress=say, cpus=cpus, placement=placement,
                              drain_s=30.0 if full else 10.0).execute()  # fmt: skip
                except (BenchError, OSError, subprocess.SubprocessError) as e:
                    entry["rates"][str(rate)] = {"offered": rate, "error": str(e)}
                    say(f"{name} at {rate:,}/s failed: {e}")
                    continue
                entry["rates"][str(rate)] = res
            ok = [r for r in entry["rates"].values() if "sent_to_signed_ns" in r]
            if ok:
                entry["sent_to_signed_ns"] = ok[0]["sent_to_signed_ns"]
            report["systems"][name] = entry
        if idle > 0:
            say(f"idle CPU: phantom-adaptive, quiet market, {idle} s")
            d = base / "idle"
            d.mkdir(parents=True, exist_ok=True)
            try:
                report["idle"] = idle_cpu(idle, d, say)
            except (BenchError, OSError) as e:
                report["idle"] = {"error": str(e)}
        report["pinned_run"] = (
            {"cpus": cpus} if cpus else
            {"skipped": f"{cores} cores: none to spare for pinning (give --cpus where there are)"}
        )  # fmt: skip
    report["ratios_to_phantom_adaptive"] = ratios(report)
    report["targets"] = targets(report)
    return report


def plot(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Latency percentile curves (log scale) per rate, system and hop, and achieved vs offered
    rate, as PNG files in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    systems = {n: s for n, s in report["systems"].items() if "rates" in s}
    rates = sorted({int(r) for s in systems.values() for r in s["rates"]})
    pcts = [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9)]
    xs = [1 / (1 - p / 100) for _, p in pcts]
    for rate in rates:
        fig, axes = plt.subplots(1, 2, figsize=(13, 5))
        ax = axes[0]
        for name, s in systems.items():
            r = s["rates"].get(str(rate), {}).get("sent_to_signed_ns", {})
            if "p50" in r:
                ax.plot(xs, [r[k] / 1e3 for k, _ in pcts], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(xs, [f"p{p:g}" for _, p in pcts])
        ax.set_ylabel("frame sent → transaction signed, µs")
        ax.set_title(f"end to end at {rate:,} updates/s offered")
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
        ax = axes[1]
        names = list(systems)
        hop_names = sorted({h for s in systems.values()
                            for h in s["rates"].get(str(rate), {}).get("hops", {})})  # fmt: skip
        width = 0.8 / max(1, len(hop_names))
        for j, hop in enumerate(hop_names):
            vals = [systems[n]["rates"].get(str(rate), {}).get("hops", {}).get(hop, {})
                    .get("p50", 0) / 1e3 for n in names]  # fmt: skip
            ax.bar([i + j * width for i in range(len(names))], vals, width, label=hop)
        ax.set_xticks([i + 0.4 for i in range(len(names))], names, rotation=30, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("p50 per hop, µs")
        ax.set_title("per hop (p50)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out_dir / f"e2e-latency-{rate}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, s in systems.items():
        pts = sorted((int(r), v["achieved"]) for r, v in s["rates"].items() if "achieved" in v)
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.plot(rates, rates, linestyle=":", color="grey", label="offered")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered updates/s")
    ax.set_ylabel("updates/s processed")
    ax.set_title("throughput vs offered load")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path = out_dir / "e2e-throughput.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def markdown(report: dict[str, Any]) -> str:
    """The report as the Markdown tables of ``docs/benchmarks.md``
    (``python -m phantom_bench.e2e.harness bench/results/e2e.json``)."""
    m = report["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}, "
        f"{'pinned' if m['pinned'] else 'unpinned'}; {report['duration_s']} s of market per "
        "system and rate.",
        "",
        "| system | offered/s | sent/s | achieved/s | lost | signed | p50 µs | p90 µs | p99 µs "
        "| p99.9 µs | max µs | p50, p99 vs phantom-adaptive | CPU µs per update "
        "| CPU µs per signed | CPU % | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    ratios_ = report.get("ratios_to_phantom_adaptive", {})
    skipped = []
    for name, s in report["systems"].items():
        if "skipped" in s:
            skipped.append(f"* `{name}`: skipped ({s['skipped']}).")
            continue
        for rate, r in s["rates"].items():
            if "error" in r:
                skipped.append(f"* `{name}` at {int(rate):,}/s: failed ({r['error']}).")
                continue
            lat = r["sent_to_signed_ns"]

            def us(k: str, lat: dict[str, int] = lat) -> str:
                return f"{lat[k] / 1e3:,.1f}" if k in lat else "-"

            rt = ratios_.get(name, {}).get(rate)
            ratio = f"{rt['p50']}x, {rt['p99']}x" if rt else "1x (base)"
            cpu = ", ".join(f"{k} {v:g}" for k, v in r["cpu_pct"].items())
            rss = ", ".join(f"{k} {v / 2**20:.0f}" for k, v in r["rss_bytes"].items())
            lines.append(
                f"| {name} | {int(rate):,} | {r['sent']:,} | {r['achieved']:,} | {r['lost']:,} "
                f"| {r.get('signed', '')} | {us('p50')} | {us('p90')} | {us('p99')} "
                f"| {us('p999')} | {us('max')} | {ratio} | {r.get('cpu_us_per_update', '-')} "
                f"| {r.get('cpu_us_per_signed', '-')} | {cpu} | {rss} |"
            )
    lines += ["", *skipped, "", "Per hop, p50 / p99 µs:", ""]
    lines += ["| system | offered/s | hops |", "|---|---:|---|"]
    for name, s in report["systems"].items():
        for rate, r in s.get("rates", {}).items():
            if "hops" not in r:
                continue
            hops = "; ".join(
                f"{h} {v.get('p50', 0) / 1e3:,.1f} / {v.get('p99', 0) / 1e3:,.1f}"
                for h, v in r["hops"].items()
            )
            lines.append(f"| {name} | {int(rate):,} | {hops} |")
    idle = report.get("idle", {})
    if "cpu_pct" in idle:
        lines += ["", f"Idle (quiet market, {idle['seconds']} s, adaptive): " + ", ".join(
            f"{k} {v:g} %" for k, v in idle["cpu_pct"].items()) + "."]  # fmt: skip
    lines += ["", "| target (DESIGN §8) | this run |", "|---|---|"]
    for t, met in report.get("targets", {}).items():
        lines.append(f"| {t} | {'n/a' if met is None else ('met' if met else 'not met')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text())), end="")
