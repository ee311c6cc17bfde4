"""The supervisor's swap with real strategy processes and a real market producer: a
cooperative swap, a hung holder killed and reaped after the swap timeout, and a broken
candidate refused while the old strategy keeps trading. (Starting feeder and signer arrives
with those executables.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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
def short_run_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A run directory short enough for a Unix socket path (108 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="pp", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(d))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def sup(instance: str, short_run_dir: Path) -> Iterator[Supervisor]:
    cfg = parse(f'[supervisor]\nswap_timeout_ms = 1500\n[strategy]\nname = "{ECHO}"\n')
    s = Supervisor(cfg, instance, None)
    s.segments = InstanceSegments.create(instance, cfg)
    s._open_control()
    s.prepare_strategy()
    first = s.strategy_child(s._strategy_argv(ECHO, None), None)
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


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phantom_pipeline.cli", *args],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_cli_swap_params_kill_switch_status_and_stop_against_a_running_supervisor(
    sup: Supervisor, procs: Procs, tmp_path: Path
) -> None:
    assert sup.segments is not None
    first = sup.children["strategy"]
    wait_until(lambda: holder(sup) == first.pid, timeout=120, what="the first lease")
    thread = threading.Thread(target=sup.run, daemon=True)
    thread.start()
    inst = sup.instance
    drain = procs.python(TOOLS, "drain", "--ring", sup.segments.intents.name, "--ticks",
                         "200000", "--out", str(tmp_path / "i.npz"))  # fmt: skip
    assert drain.stdout is not None and drain.stdout.readline().strip() == "ready"
    producer = procs.python(TOOLS, "produce", "--ring", sup.segments.market.name,
                            "--count", "200000", "--rate", "50000")  # fmt: skip
    assert producer.stdout is not None and producer.stdout.readline().strip() == "ready"

    r = _cli("swap", ECHO, "--instance", inst, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["old_epoch"], out["new_epoch"], out["ticks_skipped"]) == (1, 2, 0)
    assert set(out) == {"old_epoch", "new_epoch", "gap_ns", "ticks_skipped", "strategy"}

    bad = _cli("swap", "no_such_module:X", "--instance", inst)
    assert bad.returncode == 1 and "no_such_module" in bad.stderr

    pf = tmp_path / "p.toml"
    pf.write_text("[params]\nroute_base = 7\n")
    r = _cli("params", str(pf), "--instance", inst)
    assert r.returncode == 0, r.stderr
    assert sup.segments.control.load("strategy_params_version") == 1
    pf.write_text("[params]\nroute_bse = 7\n")
    r = _cli("params", str(pf), "--instance", inst)
    assert r.returncode == 1 and "params.route_bse: unknown parameter" in r.stderr

    assert _cli("kill-switch", "on", "--instance", inst).returncode == 0
    assert sup.segments.control.load("kill_switch") == 1
    assert _cli("kill-switch", "off", "--instance", inst).returncode == 0

    r = _cli("status", "--instance", inst, "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["strategy"]["epoch"] == 2 and st["strategy"]["name"] == ECHO
    assert st["processes"]["strategy"]["alive"] and st["processes"]["supervisor"]["alive"]
    assert st["rings"]["market"]["published"] >= st["rings"]["market"]["consumed"] > 0
    assert st["latency_ns"]["pub_to_strategy"]["count"] > 0
    assert set(st["latency_ns"]) == {
        "recv_to_pub", "pub_to_strategy", "strategy_to_intent",
        "intent_to_signer", "signer_to_signed", "tick_to_signed",
    }  # fmt: skip
    # CPU per process over the sampling window, from /proc (issue 16).
    cpu = st["cpu"]
    assert {"supervisor", "strategy"} <= set(cpu) <= {"supervisor", "feeder", "signer", "strategy"}
    for name, use in cpu.items():
        assert set(use) == {"cpu_pct", "us_per_update"}, name
        assert use["cpu_pct"] >= 0
        assert use["us_per_update"] is None or use["us_per_update"] >= 0
    assert _cli("status", "--instance", inst, "--cpu-window", "0.1").returncode == 0
    bad = _cli("status", "--instance", inst, "--cpu-window", "0")
    assert bad.returncode != 0 and "--cpu-window" in bad.stderr

    r = _cli("stop", "--instance", inst)
    assert r.returncode == 0, r.stderr
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert _cli("status", "--instance", inst).returncode == 1


def test_commands_on_an_unknown_instance_fail_clearly(instance: str, short_run_dir: Path) -> None:
    for args in (("status",), ("kill-switch", "on"), ("swap", ECHO), ("stop",)):
        r = _cli(*args, "--instance", instance)
        assert r.returncode == 1, args
        assert instance in r.stderr, (args, r.stderr)


def test_too_many_restarts_halt_the_instance_with_the_kill_switch_on(
    instance: str, short_run_dir: Path
) -> None:
    """A process that keeps dying is restarted at most ``max_restarts`` times within the
    window; then the instance halts: kill switch on, no more restarts, status says why."""
    from phantom_pipeline.status import collect
    from phantom_pipeline.supervisor import HALTED_FILE

    cfg = parse(
        "[supervisor]\nmax_restarts = 2\nrestart_window_s = 600\nrestart_backoff_min_ms = 1\n"
        f'restart_backoff_max_ms = 2\n[strategy]\nname = "{ECHO}"\n'
    )
    s = Supervisor(cfg, instance, None)
    s.segments = InstanceSegments.create(instance, cfg)
    s._open_control()
    crasher = Child("strategy", [sys.executable, "-c", "raise SystemExit(3)"], None,
                    s.dir / "strategy.log")  # fmt: skip
    crasher.spawn()
    s.children["strategy"] = crasher
    try:
        wait_until(lambda: (s.poll(), s.halted)[1] is not None, timeout=120,
                   what="the instance to halt")  # fmt: skip
        assert s.segments.control.load("kill_switch") == 1
        assert crasher.restarts == 2 and crasher.proc is None
        spawned = crasher.restarts
        for _ in range(50):
            s.poll()
        assert crasher.proc is None and crasher.restarts == spawned, "no restart after a halt"
        assert s.halted is not None and "died 3 times" in s.halted["reason"]
        st = collect(instance)
        assert st["halted"]["reason"] == s.halted["reason"]
        assert (s.dir / HALTED_FILE).stat().st_mode & 0o777 == 0o600
    finally:
        s.shutdown()
