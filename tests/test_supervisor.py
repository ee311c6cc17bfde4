"""The supervisor's swap with real strategy processes and a real market producer: a
cooperative swap, a hung holder killed and reaped after the swap timeout, and a broken
candidate refused while the old strategy keeps trading. (Starting feeder and signer arrives
with those executables.)"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, Procs, wait_until
from phantom_pipeline.config import parse
from phantom_pipeline.constants import LEASE_HELD
from phantom_pipeline.instance import InstanceError, InstanceSegments
from phantom_pipeline.supervisor import Child, Supervisor, SupervisorError

ECHO = "phantom_pipeline.strategies.echo:EchoStrategy"
TOOLS = str(REPO / "tests" / "pipeline_tools.py")


@pytest.fixture
def sup(instance: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Supervisor]:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    cfg = parse(f'[supervisor]\nswap_timeout_ms = 1500\n[strategy]\nname = "{ECHO}"\n')
    s = Supervisor(cfg, instance, None)
    s.segments = InstanceSegments.create(instance, cfg)
    first = Child("strategy", s._strategy_argv(ECHO, None), None, s.dir / "strategy.log")
    first.spawn()
    s.children["strategy"] = first
    try:
        yield s
    finally:
        s.shutdown()


def holder(s: Supervisor) -> int:
    assert s.segments is not None
    c = s.segments.control
    return c.load("lease_holder_pid") if c.load("lease_state") == LEASE_HELD else 0


def test_swaps_cooperative_hung_and_broken(sup: Supervisor, procs: Procs) -> None:
    assert sup.segments is not None
    first = sup.children["strategy"]
    wait_until(lambda: holder(sup) == first.pid, timeout=120, what="the first lease")
    producer = procs.python(TOOLS, "produce", "--ring", sup.segments.market.name,
                            "--count", "3000000", "--rate", "100000")  # fmt: skip
    assert producer.stdout is not None and producer.stdout.readline().strip() == "ready"

    r = sup.swap(ECHO, None)
    assert (r["old_epoch"], r["new_epoch"], r["ticks_skipped"], r["old_killed"]) == (1, 2, 0, False)
    assert r["gap_ns"] > 0
    assert first.proc is not None and first.proc.returncode == 0  # stepped down and reaped

    second = sup.children["strategy"]
    os.kill(second.pid, signal.SIGSTOP)
    r = sup.swap(ECHO, None)
    assert (r["new_epoch"], r["ticks_skipped"], r["old_killed"]) == (3, 0, True)
    assert second.proc is not None and second.proc.returncode == -signal.SIGKILL

    third = sup.children["strategy"]
    with pytest.raises(SupervisorError, match="no_such_module"):
        sup.swap("no_such_module:Nope", None)
    assert sup.children["strategy"] is third and holder(sup) == third.pid
    ticks = sup.segments.control.load("strategy_ticks")
    wait_until(lambda: sup.segments is not None and sup.segments.control.load("strategy_ticks") > ticks,
               what="the old strategy to keep trading")  # fmt: skip
    assert sup.segments.control.load("strategy_ticks_skipped") == 0


def test_a_second_instance_of_the_same_name_is_refused(sup: Supervisor) -> None:
    with pytest.raises(InstanceError, match="already running"):
        InstanceSegments.create(sup.instance, sup.config)


def test_stop_removes_segments_and_reaps_processes(sup: Supervisor) -> None:
    first = sup.children["strategy"]
    wait_until(lambda: holder(sup) == first.pid, timeout=120, what="the first lease")
    sup.shutdown()
    assert first.proc is not None and first.proc.poll() is not None
    from phantom_pipeline import _native

    assert _native.list_segments(f"phantom-{sup.instance}-") == []
