"""``phantom-pipeline status``: everything about a running instance, read from its shared
memory (control block, ring headers, the records still in the rings) without disturbing it.

Per-hop latencies are exact percentiles over the records still in the rings (up to the last
``window`` of each), from the timestamps the records carry (CLOCK_MONOTONIC, one clock for
every process). Report records are joined with their intents by intent seq.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from phantom_pipeline import _native
from phantom_pipeline.config import redact_url
from phantom_pipeline.cpuacct import CpuSampler
from phantom_pipeline.instance import InstanceSegments
from phantom_pipeline.segments import SegmentView

HOPS = (
    "recv_to_pub",
    "pub_to_strategy",
    "strategy_to_intent",
    "intent_to_signer",
    "signer_to_signed",
    "tick_to_signed",
)
PROCESS_INDEX = {"feeder": 0, "signer": 1, "strategy": 2}
PROCESSES = ("supervisor", "feeder", "signer", "strategy")


def heartbeat_age_ms(t_ns: int, now_ns: int) -> float | None:
    """Age of a CLOCK_MONOTONIC heartbeat ``t_ns`` at ``now_ns`` (read after it), in ms;
    None when never set. One clock, and ``now`` is taken after the heartbeat was read, so an
    age is never negative (a heartbeat stamped "stopped", u64 max, reads 0)."""
    if t_ns == 0:
        return None
    return round(max(0, now_ns - t_ns) / 1e6, 1)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _recent(view: SegmentView, window: int) -> np.ndarray[Any, Any]:
    """Copies of the last (up to ``window``) records published in a ring."""
    tail = view.hdr("tail")
    cap = view.capacity
    n = min(window, cap, tail - max(0, tail - cap))
    if n <= 0:
        return view.slots[:0].copy()
    idx = (np.arange(tail - n, tail, dtype=np.int64)) & (cap - 1)
    out: np.ndarray[Any, Any] = view.slots[idx].copy()
    return out


def _pct(values: np.ndarray[Any, Any]) -> dict[str, int]:
    v = values[(values >= 0) & (values < 60_000_000_000)]
    if v.size == 0:
        return {"count": 0, "p50": 0, "p99": 0, "p999": 0, "max": 0}
    q = np.percentile(v, [50, 99, 99.9])
    return {"count": int(v.size), "p50": int(q[0]), "p99": int(q[1]), "p999": int(q[2]),
            "max": int(v.max())}  # fmt: skip


def latencies(seg: InstanceSegments, window: int = 65536) -> dict[str, dict[str, int]]:
    mkt = _recent(seg.market, window)
    intents = _recent(seg.intents, window)
    reports = _recent(seg.reports, window)
    i64 = np.int64
    out = {
        "recv_to_pub": _pct(mkt["t_pub_ns"].astype(i64) - mkt["t_recv_ns"].astype(i64)),
        "pub_to_strategy": _pct(
            intents["t_strategy_read_ns"].astype(i64) - intents["t_tick_pub_ns"].astype(i64)
        ),
        "strategy_to_intent": _pct(
            intents["t_intent_ns"].astype(i64) - intents["t_strategy_read_ns"].astype(i64)
        ),
    }
    signed = reports[reports["t_signed_ns"] > 0]
    cap = seg.intents.capacity
    slots = seg.intents.slots[(signed["intent_seq"].astype(i64)) & (cap - 1)]
    match = slots["seq"] == signed["intent_seq"]  # the intent is still in the ring
    signed, slots = signed[match], slots[match]
    out["intent_to_signer"] = _pct(
        signed["t_intent_read_ns"].astype(i64) - slots["t_intent_ns"].astype(i64)
    )
    out["signer_to_signed"] = _pct(
        signed["t_signed_ns"].astype(i64) - signed["t_intent_read_ns"].astype(i64)
    )
    out["tick_to_signed"] = _pct(
        signed["t_signed_ns"].astype(i64) - slots["t_tick_recv_ns"].astype(i64)
    )
    return out


def feeder_topology(instance: str, c: Any) -> dict[str, Any]:
    """Endpoints (with connection state and first-arrival wins) and pools (with the accounts
    the feeder watches), from the config copy the supervisor keeps in the run directory."""
    import tomllib

    from phantom_pipeline.supervisor import run_dir

    path = run_dir(instance) / "instance-config.toml"
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return {"endpoints": [], "pools": []}
    connected, wins, lag = c.entry["endpoint_connected"], c.entry["endpoint_wins"], c.entry[
        "endpoint_lag_ns"]  # fmt: skip
    endpoints = [
        {"ws": redact_url(str(ep.get("ws", ""))), "rpc": redact_url(str(ep.get("rpc", ""))),
         "connected": bool(connected[i]), "wins": int(wins[i]), "lag_ns": int(lag[i]),
         "refused": {"slot": int(c.entry["endpoint_slot_refused"][i]),
                     "owner": int(c.entry["endpoint_owner_refused"][i]),
                     "frames_too_large": int(c.entry["endpoint_frames_too_large"][i]),
                     "subscription_replies": int(
                         c.entry["endpoint_subscription_replies_refused"][i]),
                     "refetch_failures": int(c.entry["endpoint_refetch_failures"][i])}}
        for i, ep in enumerate(raw.get("feeder", {}).get("endpoints", [])[: len(wins)])
    ]  # fmt: skip
    pools = []
    for p in raw.get("pools", []):
        accounts = [p.get("address")]
        if p.get("kind") in ("raydium_amm_v4", "raydium_cpmm"):
            accounts += list(p.get("vaults", []))
        pools.append({"address": p.get("address"), "kind": p.get("kind"),
                      "name": p.get("name"), "accounts": accounts})  # fmt: skip
    return {"endpoints": endpoints, "pools": pools}


def _halted(instance: str) -> dict[str, Any] | None:
    """``{"reason", "since"}`` when the supervisor halted the instance (too many restarts)."""
    import json

    from phantom_pipeline.supervisor import HALTED_FILE, run_dir

    try:
        data = json.loads((run_dir(instance) / HALTED_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _sandbox_mode(instance: str) -> str:
    """``[strategy] sandbox`` of the running instance ("enforce" or "off"), from the config
    copy the supervisor keeps."""
    import tomllib

    from phantom_pipeline.supervisor import run_dir

    try:
        raw = tomllib.loads((run_dir(instance) / "instance-config.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return "unknown"
    mode = raw.get("strategy", {}).get("sandbox", "enforce")
    return mode if isinstance(mode, str) else "unknown"


def preflight_stats_path(instance: str) -> Path | None:
    """Where a preflight signer writes its counts (beside its ledger, as the signer's
    ``preflight::stats_path`` says): ``$XDG_STATE_HOME`` (or ``~/.local/state``)
    ``/phantom-pipeline/INSTANCE/preflight.json``."""
    base = os.environ.get("XDG_STATE_HOME") or (
        str(Path(os.environ["HOME"]) / ".local" / "state") if os.environ.get("HOME") else None
    )
    return Path(base) / "phantom-pipeline" / instance / "preflight.json" if base else None


def preflight_stats(instance: str) -> dict[str, Any] | None:
    """The preflight counts of a signer in preflight mode (None: none written yet)."""
    path = preflight_stats_path(instance)
    if path is None:
        return None
    try:
        stats: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return stats


def cpu_usage(c: Any, window_s: float) -> dict[str, dict[str, Any]]:
    """``{process: {cpu_pct, us_per_update}}`` over ``window_s`` seconds: each process's CPU
    time (every thread, from ``/proc``) as % of one core, and per update the feeder delivered
    in the window (``feeder_notifications``; None when none arrived). Processes whose pid is
    unknown or gone are left out."""
    pids = {name: int(c.load(f"pid_{name}")) for name in PROCESSES}
    sampler = CpuSampler({k: p for k, p in pids.items() if _pid_alive(p)})
    before = int(c.load("feeder_notifications"))
    sampler.begin()
    time.sleep(window_s)
    return sampler.read(int(c.load("feeder_notifications")) - before)


def collect(instance: str, window: int = 65536, cpu_window_s: float = 0.5) -> dict[str, Any]:
    """The ``status --json`` object of DESIGN §7 for a running instance. ``cpu`` is sampled
    over ``cpu_window_s`` (None with 0: the caller does not want to wait)."""
    seg = InstanceSegments.attach(instance, "reader")
    c = seg.control
    cpu = cpu_usage(c, cpu_window_s) if cpu_window_s > 0 else None

    def age(field: str) -> float | None:
        t = c.load(field)
        return heartbeat_age_ms(t, _native.monotonic_ns())

    restarts = c.entry["restarts"]
    processes: dict[str, Any] = {}
    for name in PROCESSES:
        pid = c.load(f"pid_{name}")
        processes[name] = {
            "pid": pid,
            "alive": _pid_alive(pid),
            "restarts": int(restarts[PROCESS_INDEX[name]]) if name in PROCESS_INDEX else 0,
            "heartbeat_age_ms": age(f"hb_{name}_ns"),
        }
    rings = {}
    for role, view in (("market", seg.market), ("intents", seg.intents), ("reports", seg.reports)):
        tail, head = view.hdr("tail"), view.hdr("head")
        rings[role] = {
            "published": tail,
            "consumed": head,
            "overflows": view.hdr("overflows"),
            "depth": tail - head,
            "capacity": view.capacity,
            "index_errors": view.hdr("index_errors"),
        }
    # (The feeder counts each overflow twice over: in the ring's header, read above, and in
    # the control block's feeder_overflows; the two are the same events.)
    reasons = c.entry["signer_reject_reasons"]
    consts = _native.constants()
    reason_names = {code: name for name, code in consts["reject_reason"].items()}
    mode_names = {
        code: name.lower().replace("_", "-") for name, code in consts["signer_mode"].items()
    }
    rejected = {reason_names.get(i, f"code_{i}"): int(n) for i, n in enumerate(reasons) if n}
    return {
        "instance": instance,
        "halted": _halted(instance),
        "processes": processes,
        "cpu": cpu,
        "rings": rings,
        "strategy": {
            "epoch": c.load("lease_epoch"),
            "name": c.get_str("strategy_name"),
            "ticks_processed": c.load("strategy_ticks"),
            "ticks_skipped": c.load("strategy_ticks_skipped"),
            "intents": c.load("strategy_intents"),
            "intents_dropped": c.load("strategy_intents_dropped"),
            "params_version": c.load("strategy_params_version"),
            "sandbox": _sandbox_mode(instance),
        },
        "signer": {
            "mode": mode_names.get(c.load("signer_mode"), "unknown"),
            "accepted": c.load("signer_accepted"),
            "rejected": rejected,
            "duplicates_refused": rejected.get("duplicate", 0),
            "stale_epoch_refused": rejected.get("stale_epoch", 0),
            "capture_path": c.get_str("signer_capture_path") or None,
            "signed": c.load("signer_signed"),
            "sent": c.load("signer_sent"),
            "landed": c.load("signer_landed"),
            "failed": c.load("signer_failed"),
            "kill_switch": bool(c.load("kill_switch")),
            "preflight": preflight_stats(instance)
            if mode_names.get(c.load("signer_mode")) == "preflight"
            else None,
            "budget": {
                "committed_minute": c.load("signer_budget_committed_minute"),
                "committed_day": c.load("signer_budget_committed_day"),
                "limit_minute": c.load("signer_budget_limit_minute"),
                "limit_day": c.load("signer_budget_limit_day"),
            },
        },
        "feeder": {
            "notifications": c.load("feeder_notifications"),
            "decode_errors": c.load("feeder_decode_errors"),
            "duplicates": c.load("feeder_duplicates"),
            "stale_slot": c.load("feeder_stale_slot"),
            "resyncs": c.load("feeder_resyncs"),
            "gaps": c.load("feeder_gaps"),
            **feeder_topology(instance, c),
        },
        "latency_ns": latencies(seg, window),
    }
