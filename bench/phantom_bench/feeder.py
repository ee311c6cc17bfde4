"""The feeder ingest benchmark: the Rust engine (``phantom-feeder-bench``) beside the same
parse done in Python (``json`` + ``base64``), on the very same frames, in one run.

Target (issue: feeder): ≥ 500 k vault notifications decoded and published per second on one
core, and ``t_pub_ns - t_recv_ns`` p50/p99 of the published pool updates.

The Rust side parses, dedupes, decodes, assembles and publishes every frame into real
shared-memory segments (see ``feeder/src/bin/phantom-feeder-bench.rs``); it runs twice, with
the ring drained inline on the engine's thread (``inline``: one core does everything) and by
a second thread (``thread``). The Python side only parses: ``json.loads``, then
``base64.b64decode`` of the account data and ``int.from_bytes(data[64:72], "little")`` for
the vault balance, per frame; it publishes nothing, so it is a lower bound on a Python
feeder's cost.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phantom_bench import tool

TARGET_NOTIFICATIONS_PER_S = 500_000


def _pct(samples: list[int]) -> dict[str, int]:
    s = sorted(samples)
    return {"samples": len(s), "p50_ns": s[len(s) // 2], "p99_ns": s[int(len(s) * 0.99)],
            "max_ns": s[-1]}  # fmt: skip


def parse_frame(frame: str) -> tuple[int, int, int]:
    """(subscription, slot, vault amount) of one ``accountNotification`` of a token account:
    the Python equivalent of the feeder's parse + base64 + token-amount read."""
    params = json.loads(frame)["params"]
    result = params["result"]
    data = base64.b64decode(result["value"]["data"][0])
    return params["subscription"], result["context"]["slot"], int.from_bytes(data[64:72], "little")


def python_parse(frames: list[str]) -> dict[str, Any]:
    """Time :func:`parse_frame` over ``frames``: one untimed-per-frame pass for throughput,
    then one pass timing each frame."""
    if not frames:
        raise ValueError("no frames to parse")
    checksum = 0
    t0 = time.perf_counter_ns()
    for f in frames:
        checksum ^= parse_frame(f)[2]
    elapsed = time.perf_counter_ns() - t0
    per_frame = []
    clock = time.perf_counter_ns
    for f in frames:
        t = clock()
        parse_frame(f)
        per_frame.append(clock() - t)
    return {
        "frames": len(frames),
        "busy_s": round(elapsed / 1e9, 6),
        "frames_per_s": round(len(frames) / (elapsed / 1e9)),
        "per_frame": _pct(per_frame),
        "amount_checksum": checksum,
    }


def run(
    full: bool = False,
    *,
    frames: int | None = None,
    warmup: int | None = None,
    python_frames: int | None = None,
    consumer: str = "both",
    pools: int = 8,
    slot_every: int = 64,
    config: str | os.PathLike[str] | None = None,
    instance: str | None = None,
    progress: Callable[[str], None] | None = None,
    timeout: float = 600,
) -> dict[str, Any]:
    """Run the feeder benchmark and return ``{"rust", "python", "ratios", "targets"}``.

    ``frames`` account notifications go through the Rust engine per consumer mode
    (``consumer``: ``inline``, ``thread`` or ``both``); the first ``python_frames`` of them are
    then parsed in Python. ``instance`` names the Rust side's segments (``<instance>-inline``,
    ``<instance>-thread``; a private name by default); they are removed when it exits.
    """
    frames = frames if frames is not None else (5_000_000 if full else 1_000_000)
    warmup = warmup if warmup is not None else min(50_000, max(frames // 10, 1))
    python_frames = python_frames if python_frames is not None else (
        200_000 if full else 50_000)  # fmt: skip
    python_frames = max(1, min(python_frames, frames))
    say = progress or (lambda _msg: None)
    with tempfile.TemporaryDirectory(prefix="phantom-benchfeeder-") as tmp:
        dump = Path(tmp) / "frames.jsonl"
        args = [
            str(tool("phantom-feeder-bench")),
            "--frames", str(frames),
            "--warmup", str(warmup),
            "--consumer", consumer,
            "--pools", str(pools),
            "--slot-every", str(slot_every),
            "--dump-frames", str(dump),
            "--dump-count", str(python_frames),
        ]  # fmt: skip
        if config is not None:
            args += ["--config", str(config)]
        if instance is not None:
            args += ["--instance", instance]
        say(f"rust: {frames} frames through the feeder engine ({consumer})")
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        if p.returncode != 0:
            raise RuntimeError(f"phantom-feeder-bench failed: {p.stderr.strip()}")
        rust: dict[str, Any] = json.loads(p.stdout)
        dumped = dump.read_text().splitlines()
    say(f"python: {len(dumped)} frames through json + base64")
    python = python_parse(dumped)
    runs: dict[str, dict[str, Any]] = rust["runs"]
    primary = "inline" if "inline" in runs else next(iter(runs))
    py_fps = python["frames_per_s"]
    py_p50 = python["per_frame"]["p50_ns"]
    ratios: dict[str, Any] = {"primary": primary}
    for mode, r in runs.items():
        ratios[f"rust_{mode}_over_python_throughput"] = round(r["notifications_per_s"] / py_fps, 2)
        ratios[f"python_p50_over_rust_{mode}_p50"] = round(
            py_p50 / max(r["t_pub_minus_t_recv"]["p50_ns"], 1), 2
        )
    targets = {
        "notifications_500k_per_s_one_core": runs[primary]["notifications_per_s"]
        >= TARGET_NOTIFICATIONS_PER_S,
    }
    return {"rust": rust, "python": python, "ratios": ratios, "targets": targets}
