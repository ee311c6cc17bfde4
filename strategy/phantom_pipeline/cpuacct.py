"""CPU time of processes, read from ``/proc`` (no control-block fields: any reader with the
pids can account for them, and a process cannot misreport its own use).

:func:`cpu_ns` sums ``/proc/PID/task/*/schedstat`` (nanoseconds on the CPU, every thread),
falling back to ``utime + stime`` from ``/proc/PID/stat`` (clock ticks, usually 10 ms) where
schedstat is missing. :class:`CpuSampler` turns two readings into ``cpu_pct`` (% of one core)
and ``us_per_update`` (CPU µs per delivered update) per process.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _stat_ns(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * _TICK_NS  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def cpu_ns(pid: int) -> int | None:
    """CPU time ``pid``'s live threads have used so far, in ns; None when it is gone.

    A thread that has exited is no longer in ``task/``: a window in which one ends
    under-counts it (the pipeline's processes keep their threads for their lifetime)."""
    if pid <= 0:
        return None
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    seen = False
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
            seen = True
        except (OSError, IndexError, ValueError):
            continue
    return total if seen else _stat_ns(pid)


@dataclass
class CpuSampler:
    """CPU use of named processes between :meth:`begin` and :meth:`read`."""

    pids: dict[str, int]
    start_ns: dict[str, int] = field(default_factory=dict)
    t0_ns: int = 0

    def begin(self) -> None:
        self.start_ns = {k: cpu_ns(p) or 0 for k, p in self.pids.items()}
        self.t0_ns = time.monotonic_ns()

    def used_ns(self) -> dict[str, int]:
        """CPU ns each process used since :meth:`begin` (0 for one that has gone)."""
        out = {}
        for k, p in self.pids.items():
            now = cpu_ns(p)
            out[k] = 0 if now is None else max(0, now - self.start_ns.get(k, 0))
        return out

    def read(self, updates: int) -> dict[str, dict[str, Any]]:
        """``{name: {cpu_pct, us_per_update}}`` since :meth:`begin`, for ``updates``
        delivered in that window (``us_per_update`` is None when there were none)."""
        wall = max(time.monotonic_ns() - self.t0_ns, 1)
        return {
            k: {
                "cpu_pct": round(100 * used / wall, 2),
                "us_per_update": round(used / 1e3 / updates, 2) if updates > 0 else None,
            }
            for k, used in self.used_ns().items()
        }
