"""Hostile strategies swapped into a running embedded default: the kernel of issue 12 that
sells 500 billion raw units of the intermediate token at any price, and its variants, one per
leg rule. Nothing they write is signed; every intent is refused and counted by reason, and
the feeder and signer keep running."""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from solders.transaction import VersionedTransaction

from conftest import cli, instance_status, wait_until
from phantom_pipeline import _native
from phantom_pipeline.embedded import DEFAULT_LIMITS

#: One hostile intent per tick, cycling through the ways to break the route rules on the
#: embedded default's route 0 (CPMM -> CPMM, a cycle, max amount in 10^12).
HOSTILE = """
from numba import njit
import numpy as np
from phantom_pipeline.constants import MARKET_POOL_UPDATE
from phantom_pipeline.strategy import Strategy

_U = np.uint64
KINDS = 6


@njit(cache=True)
def hostile_kernel(tick, pools, state, params, out):
    if tick.kind != MARKET_POOL_UPDATE:
        return 0
    o = out[0]
    o.route_id = 0
    o.cu_price_micro_lamports = 1000
    o.tip_lamports = 0
    o.flags = 0
    o.tick_array_variant = 0
    a = (_U(1000), _U(500_000_000_000), _U(0))
    m = (_U(0), _U(0), _U(0))
    kind = state[0] % KINDS
    state[0] += 1
    if kind == 1:  # min outs set, but leg 1 sells far more than leg 0 guarantees
        m = (_U(1), _U(1), _U(0))
    elif kind == 2:  # the chain holds, but the cycle gives back almost nothing
        m = (_U(500_000_000_000), _U(1), _U(0))
    elif kind == 3:  # a third leg the route does not have
        a = (_U(1000), _U(900), _U(1))
        m = (_U(900), _U(1001), _U(0))
    elif kind == 4:  # leg 1 sells nothing
        a = (_U(1000), _U(0), _U(0))
        m = (_U(900), _U(1001), _U(0))
    elif kind == 5:  # above the route's maximum
        a = (_U(2_000_000_000_000), _U(900), _U(0))
        m = (_U(900), _U(2_000_000_000_001), _U(0))
    for k in range(3):
        o.amount_in[k] = a[k]
        o.min_out[k] = m[k]
    o.expected_profit = 0
    return 1


class Hostile(Strategy):
    kernel = hostile_kernel
    max_intents_per_tick = 1
"""

EXPECTED = {
    "leg_min_out_zero",  # the dumping kernel: amount_in=[1000, 5e11], min_out=[0, 0]
    "leg_chain_exceeds_min_out",
    "cycle_below_min_profit",
    "unused_leg_nonzero",
    "leg_amount_zero",
    "amount_over_route_max",
}


@pytest.fixture
def run_base(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="pp", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(d))
    (tmp_path / "hostile_strategy.py").write_text(HOSTILE)
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_the_dumping_kernel_swapped_in_signs_nothing_and_is_refused_by_reason(
    instance: str, run_base: Path
) -> None:
    r = cli("start", "--instance", instance, "--detach")
    try:
        assert r.returncode == 0, r.stderr + r.stdout

        wait_until(lambda: instance_status(instance)["strategy"]["ticks_processed"] > 50, timeout=240,
                   what="ticks through the built-in strategy")  # fmt: skip
        before = instance_status(instance)
        budget = before["signer"]["budget"]
        assert budget["limit_minute"] == DEFAULT_LIMITS["max_lamports_per_minute"]
        assert budget["limit_day"] == DEFAULT_LIMITS["max_lamports_per_day"]
        assert 0 <= budget["committed_minute"] <= budget["committed_day"]
        s = cli("swap", "hostile_strategy:Hostile", "--instance", instance, "--json")
        assert s.returncode == 0, s.stderr
        hostile_epoch = json.loads(s.stdout)["new_epoch"]

        def refused_enough() -> bool:
            rejected = instance_status(instance)["signer"]["rejected"]
            return all(rejected.get(name, 0) >= 5 for name in EXPECTED)

        wait_until(refused_enough, timeout=240, what="each hostile intent kind refused")
        after = instance_status(instance)
        for proc in ("feeder", "signer"):
            assert after["processes"][proc]["pid"] == before["processes"][proc]["pid"]
            assert after["processes"][proc]["alive"]
        capture = Path(after["signer"]["capture_path"])
        rejected = after["signer"]["rejected"]
    finally:
        stop = cli("stop", "--instance", instance)
    assert stop.returncode == 0, stop.stderr
    assert _native.list_segments(f"phantom-{instance}-") == []
    hostile_lines = []
    for line in capture.read_text().splitlines():
        rec = json.loads(line)
        if rec["epoch"] == hostile_epoch:
            hostile_lines.append(rec)
        tx = VersionedTransaction.from_bytes(base64.b64decode(rec["tx"]))
        assert all(tx.verify_with_results())
    assert hostile_lines == [], "nothing the hostile strategy wrote was signed"
    print("refused by reason:", {k: v for k, v in rejected.items() if k in EXPECTED})
