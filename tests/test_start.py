"""`phantom-pipeline start` on the embedded default, end to end with real processes: the
simulator, feeder, signer and strategy come up, ticks become intents become signed dry-run
transactions that an independent Solana implementation (solders) verifies, `status --json`
agrees, and `stop` leaves nothing behind."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from solders.transaction import VersionedTransaction

from conftest import cli, instance_status, wait_until
from phantom_pipeline import _native


def test_embedded_default_trades_and_signs_verifiable_transactions(
    instance: str, run_base: Path
) -> None:
    r = cli("start", "--instance", instance, "--detach")
    try:
        assert r.returncode == 0, r.stderr + r.stdout

        wait_until(lambda: instance_status(instance)["signer"]["signed"] >= 3, timeout=240,
                   what="signed transactions")  # fmt: skip
        st = instance_status(instance)
        assert all(p["alive"] for p in st["processes"].values()), st["processes"]
        assert st["signer"]["mode"] == "dry-run"
        assert st["strategy"]["name"] == "phantom_pipeline.strategies.arb:TwoPoolArb"
        assert st["rings"]["market"]["published"] > 0 and st["strategy"]["intents"] > 0
        assert st["latency_ns"]["tick_to_signed"]["count"] > 0
        fd = st["feeder"]
        assert len(fd["endpoints"]) == 1 and fd["endpoints"][0]["ws"].startswith("ws://127.0.0.1")
        assert fd["endpoints"][0]["connected"] and fd["endpoints"][0]["wins"] > 0
        assert [p["kind"] for p in fd["pools"]] == ["raydium_amm_v4", "orca_whirlpool",
                                                     "raydium_cpmm", "raydium_cpmm"]  # fmt: skip
        assert [len(p["accounts"]) for p in fd["pools"]] == [3, 1, 3, 3]
        capture = Path(st["signer"]["capture_path"])
        # With signing stopped, the counters must agree with the records: every intent the
        # strategy published was accepted or rejected, and every signed one is captured.
        assert cli("kill-switch", "on", "--instance", instance).returncode == 0
        settled: dict = {}  # type: ignore[type-arg]

        def counters_agree() -> bool:
            s = instance_status(instance)
            sg = s["signer"]
            settled.update(s)
            return (
                s["rings"]["intents"]["depth"] == 0
                and s["rings"]["intents"]["published"] == s["strategy"]["intents"]
                and sg["accepted"] + sum(sg["rejected"].values()) == s["strategy"]["intents"]
                and sg["rejected"].get("kill_switch", 0) > 0
            )

        wait_until(counters_agree, timeout=240, what="signer counters to match the intents")
        signed = settled["signer"]["signed"]
    finally:
        stop = cli("stop", "--instance", instance)
    assert stop.returncode == 0, stop.stderr
    assert _native.list_segments(f"phantom-{instance}-") == []
    lines = capture.read_text().splitlines()
    assert len(lines) == signed >= 3
    for line in lines:
        rec = json.loads(line)
        tx = VersionedTransaction.from_bytes(base64.b64decode(rec["tx"]))
        assert all(tx.verify_with_results()), "every signature verifies"
        assert str(tx.signatures[0]) == rec["signature"]
        assert rec["route_id"] in (0, 1)


def test_start_with_a_bad_config_names_the_key(run_base: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[strategy]\nwiat = "spin"\n')
    r = cli("start", "--config", str(bad), "--instance", "badcfg")
    assert r.returncode == 1 and "strategy.wiat: unknown key" in r.stderr
    r = cli("start", "--config", str(tmp_path / "missing.toml"), "--instance", "badcfg")
    assert r.returncode == 1 and "no such config file" in r.stderr


def test_hot_swaps_on_the_running_pipeline_keep_feeder_and_signer_and_skip_no_tick(
    instance: str, run_base: Path
) -> None:
    r = cli("start", "--instance", instance, "--detach")
    try:
        assert r.returncode == 0, r.stderr + r.stdout

        wait_until(lambda: instance_status(instance)["strategy"]["ticks_processed"] > 100, timeout=240,
                   what="ticks through the first strategy")  # fmt: skip
        before = instance_status(instance)["processes"]
        epoch = instance_status(instance)["strategy"]["epoch"]
        for strategy in ("phantom_pipeline.strategies.arb:TriangularArb",
                         "phantom_pipeline.strategies.arb:TwoPoolArb"):  # fmt: skip
            s = cli("swap", strategy, "--instance", instance, "--json")
            assert s.returncode == 0, s.stderr
            out = json.loads(s.stdout)
            assert (out["old_epoch"], out["new_epoch"], out["ticks_skipped"]) == (
                epoch,
                epoch + 1,
                0,
            )
            epoch += 1
        ticks = instance_status(instance)["strategy"]["ticks_processed"]
        wait_until(lambda: instance_status(instance)["strategy"]["ticks_processed"] > ticks, timeout=120,
                   what="ticks through the new strategy")  # fmt: skip
        after = instance_status(instance)
        for proc in ("feeder", "signer"):
            assert after["processes"][proc]["pid"] == before[proc]["pid"], proc
            assert after["processes"][proc]["alive"]
        assert after["strategy"]["ticks_skipped"] == 0
        assert after["strategy"]["name"] == "phantom_pipeline.strategies.arb:TwoPoolArb"
    finally:
        stop = cli("stop", "--instance", instance)
    assert stop.returncode == 0, stop.stderr
    assert _native.list_segments(f"phantom-{instance}-") == []
