"""Strategy runtime and hot swap with real processes: a market producer that never drops a
tick, strategy processes taking the lease in turn, and a drain recording every intent.
(The supervisor arrives with `phantom-pipeline start`; here the test plays its part: it
starts the processes and, for a hung strategy, kills, reaps and releases.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, Procs, finish, wait_until
from phantom_pipeline.constants import LEASE_HELD, LEASE_STEP_DOWN_REQUESTED
from phantom_pipeline.control import Control
from phantom_pipeline.runtime import force_release
from phantom_pipeline.segments import attach_ring, create_ring, create_table

ECHO = "phantom_pipeline.strategies.echo:EchoStrategy"
TOOLS = str(REPO / "tests" / "pipeline_tools.py")


class Pipeline:
    def __init__(self, instance: str, procs: Procs, tmp: Path) -> None:
        self.instance, self.procs, self.tmp = instance, procs, tmp
        n = lambda role: f"phantom-{instance}-{role}"  # noqa: E731
        self.control = Control.create(instance)
        create_table(n("pools"), "PoolState", 4)
        self.market = create_ring(n("market"), "MarketUpdate", 4096)
        self.intents = create_ring(n("intents"), "OrderIntent", 16384)
        create_ring(n("reports"), "ExecReport", 256)
        self.names = n

    def strategy(self, *extra: str) -> subprocess.Popen[str]:
        # The drain may be starved for a while on a loaded machine: the strategy waits for
        # room (instead of dropping intents after 2 ms), so every tick is checkable.
        return self.procs.python(
            "-m", "phantom_pipeline.runtime", "--instance", self.instance,
            "--intents-full-timeout-ms", "600000", *extra,
        )  # fmt: skip

    def params(self, name: str, route_base: int) -> str:
        path = self.tmp / f"{name}.toml"
        path.write_text(f"[params]\nroute_base = {route_base}\n")
        return str(path)

    def producer(self, count: int, rate: int) -> subprocess.Popen[str]:
        p = self.procs.python(TOOLS, "produce", "--ring", self.names("market"),
                              "--count", str(count), "--rate", str(rate))  # fmt: skip
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        return p

    def drain(self, ticks: int) -> tuple[subprocess.Popen[str], Path]:
        out = self.tmp / "intents.npz"
        p = self.procs.python(TOOLS, "drain", "--ring", self.names("intents"),
                              "--ticks", str(ticks), "--out", str(out))  # fmt: skip
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        return p, out

    def holder_is(self, pid: int) -> bool:
        c = self.control
        return c.load("lease_state") == LEASE_HELD and c.load("lease_holder_pid") == pid


@pytest.fixture
def pipeline(instance: str, procs: Procs, tmp_path: Path) -> Pipeline:
    return Pipeline(instance, procs, tmp_path)


def _intents(out: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    z = np.load(out)
    return z["ticks"], z["epochs"], z["seqs"]


def test_cooperative_swaps_under_load_skip_no_tick_and_repeat_no_intent(
    pipeline: Pipeline,
) -> None:
    swaps = int(os.environ.get("PHANTOM_SWAPS", "20"))
    count = 150_000 * swaps  # ~1.5 s of market per swap at 100 k ticks/s
    drain, out = pipeline.drain(count)
    first = pipeline.strategy("--strategy", ECHO, "--params", pipeline.params("a", 0))
    wait_until(lambda: pipeline.holder_is(first.pid), timeout=120, what="the first lease")
    producer = pipeline.producer(count, 100_000)
    gaps = []
    current = first
    for i in range(swaps):
        nxt = pipeline.strategy(
            "--strategy", ECHO, "--params", pipeline.params(f"s{i}", 100 * (i % 2))
        )
        wait_until(lambda p=nxt: pipeline.holder_is(p.pid), timeout=120, what=f"swap {i + 1}")
        rc, _, err = finish(current, timeout=120)
        assert rc == 0, err
        c = pipeline.control
        gaps.append(c.load("swap_t_acquired_ns") - c.load("swap_t_released_ns"))
        current = nxt
    rc, _, err = finish(producer, timeout=300)
    assert rc == 0, err
    rc, _, err = finish(drain, timeout=300)
    assert rc == 0, err
    pipeline.control.store("run_state", 1)
    rc, _, err = finish(current, timeout=120)
    assert rc == 0, err

    ticks, epochs, seqs = _intents(out)
    assert pipeline.control.load("strategy_intents_dropped") == 0
    assert len(ticks) == count, "every tick became exactly one intent"
    assert np.array_equal(np.sort(ticks), np.arange(count)), "no tick skipped or repeated"
    assert np.array_equal(seqs, np.arange(count)), "intent seqs are gapless"
    assert np.all(np.diff(epochs) >= 0) and epochs[0] == 1
    # Swaps happened while ticks flowed (a loaded machine may finish the market first).
    assert len(set(epochs.tolist())) >= 2 and epochs[-1] <= swaps + 1
    assert pipeline.control.load("strategy_ticks_skipped") == 0
    assert pipeline.control.load("lease_epoch") == swaps + 1
    print(f"handover gaps (ms): {[round(g / 1e6, 3) for g in gaps]}")


def test_a_strategy_that_fails_to_import_or_compile_is_refused_and_the_old_keeps_trading(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    first = pipeline.strategy("--strategy", ECHO)
    wait_until(lambda: pipeline.holder_is(first.pid), timeout=120, what="the first lease")
    rc, _, err = finish(pipeline.strategy("--strategy", "no_such_module:Nope"))
    assert rc == 2 and "cannot import no_such_module" in err
    broken = tmp_path / "broken_strategy.py"
    broken.write_text(
        "from numba import njit\n"
        "from phantom_pipeline.strategy import Strategy\n"
        "@njit(cache=True)\n"
        "def k(tick, pools, state, params, out):\n"
        "    return tick.no_such_field\n"
        "class Broken(Strategy):\n"
        "    kernel = k\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    p = pipeline.procs.start(
        [sys.executable, "-m", "phantom_pipeline.runtime", "--instance", pipeline.instance,
         "--strategy", "broken_strategy:Broken"], env=env,
    )  # fmt: skip
    rc, _, err = finish(p)
    assert rc == 2 and "no_such_field" in err
    bad_params = tmp_path / "bad.toml"
    bad_params.write_text("[params]\nroute_bas = 1\n")
    rc, _, err = finish(pipeline.strategy("--strategy", ECHO, "--params", str(bad_params)))
    assert rc == 2 and "params.route_bas: unknown parameter" in err
    assert pipeline.holder_is(first.pid) and first.poll() is None
    # ... and it still trades.
    drain, out = pipeline.drain(1000)
    rc, _, err = finish(pipeline.producer(1000, 0))
    assert rc == 0, err
    rc, _, err = finish(drain)
    assert rc == 0, err
    ticks, epochs, _ = _intents(out)
    assert np.array_equal(ticks, np.arange(1000)) and set(epochs.tolist()) == {1}


def test_a_hung_holder_is_killed_and_reaped_before_the_new_strategy_writes(
    pipeline: Pipeline,
) -> None:
    count = 200_000
    drain, out = pipeline.drain(count)
    old = pipeline.strategy("--strategy", ECHO)
    wait_until(lambda: pipeline.holder_is(old.pid), timeout=120, what="the first lease")
    producer = pipeline.producer(count, 100_000)
    wait_until(lambda: pipeline.control.load("strategy_ticks") > 10_000, what="some trading")
    os.kill(old.pid, signal.SIGSTOP)
    new = pipeline.strategy("--strategy", ECHO, "--lease-timeout-s", "300")
    c = pipeline.control
    wait_until(lambda: c.load("lease_state") == LEASE_STEP_DOWN_REQUESTED, timeout=120,
               what="the new strategy to ask for the lease")  # fmt: skip
    tail_before = pipeline.intents.hdr("tail")
    # The supervisor's part: the holder does not step down; kill it, reap it, release.
    os.kill(old.pid, signal.SIGKILL)
    old.wait(timeout=60)
    assert pipeline.intents.hdr("tail") == tail_before, "the stopped holder wrote nothing"
    force_release(c, attach_ring(pipeline.names("market"), "MarketUpdate"), pipeline.intents)
    handover_last = c.load("handover_last_tick")
    wait_until(lambda: pipeline.holder_is(new.pid), timeout=120, what="the new lease")
    rc, _, err = finish(producer, timeout=300)
    assert rc == 0, err
    rc, _, err = finish(drain, timeout=300)
    assert rc == 0, err
    ticks, epochs, _ = _intents(out)
    assert c.load("strategy_intents_dropped") == 0
    assert np.array_equal(np.unique(ticks), np.arange(count)), "no tick skipped"
    # A holder killed mid-batch may have published intents for ticks it had not released;
    # the new epoch repeats only those (the signer refuses repeats of (tick, route)).
    values, counts = np.unique(ticks, return_counts=True)
    repeated = values[counts > 1]
    assert np.all(repeated > handover_last)
    assert set(epochs.tolist()) == {1, 2}
    assert c.load("strategy_ticks_skipped") == 0
