"""CPU accounting from /proc (issue 16): what ``bench`` and ``status`` report per process."""

from __future__ import annotations

import os

from conftest import Procs, wait_until
from phantom_pipeline.cpuacct import CpuSampler, cpu_ns

BURN = "import sys\nprint('ready', flush=True)\nwhile True:\n    pass\n"


def test_a_busy_process_is_charged_and_a_gone_one_is_none(procs: Procs) -> None:
    p = procs.python("-c", BURN)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    first = cpu_ns(p.pid)
    assert first is not None
    wait_until(lambda: (cpu_ns(p.pid) or 0) > first, what="the burner to use CPU")
    s = CpuSampler({"burner": p.pid, "me": os.getpid()})
    s.begin()
    wait_until(lambda: s.used_ns()["burner"] > 1_000_000, what="a millisecond of CPU")
    used = s.used_ns()
    assert used["burner"] > 1_000_000 and used["me"] >= 0
    per = s.read(updates=1000)
    assert per["burner"]["cpu_pct"] > 0
    assert per["burner"]["us_per_update"] is not None and per["burner"]["us_per_update"] > 0
    # No updates in the window: no per-update figure (not a division by zero, not 0).
    assert s.read(updates=0)["burner"]["us_per_update"] is None
    p.kill()
    p.wait(timeout=60)
    assert cpu_ns(p.pid) is None
    assert cpu_ns(0) is None and cpu_ns(-1) is None
    assert s.used_ns()["burner"] == 0


def test_threads_are_summed() -> None:
    """A process's figure covers every thread, not just the main one."""
    import threading

    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    t = threading.Thread(target=spin, daemon=True)
    before = cpu_ns(os.getpid())
    assert before is not None
    t.start()
    try:
        tid = t.native_id
        assert tid is not None

        def thread_ns() -> int:
            with open(f"/proc/{os.getpid()}/task/{tid}/schedstat") as f:
                return int(f.read().split()[0])

        wait_until(lambda: thread_ns() > 5_000_000, what="the thread to use CPU")
        spun = thread_ns()  # read first: the process total read after it includes all of it
        assert (cpu_ns(os.getpid()) or 0) - before >= spun
    finally:
        stop.set()
        t.join(timeout=60)
