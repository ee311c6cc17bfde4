"""Record and replay: a feeder records its input from the simulator; replaying the recording
into a fresh instance (as fast as possible) rebuilds the same pools table, equal to the
simulator's frozen market; the CLI wraps both; a bad file is refused by name."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from test_feeder import config_text, start_sim, table_matches_market

from conftest import Procs, finish, wait_until
from phantom_pipeline import _native
from phantom_pipeline.binaries import executable
from phantom_pipeline.config import parse
from phantom_pipeline.instance import InstanceSegments
from phantom_pipeline.segments import RingEnd, TableView

FIELDS = ("vault_a_amount", "vault_b_amount", "owed_a", "owed_b", "reserve_a", "reserve_b",
          "sqrt_price_lo", "sqrt_price_hi", "liquidity_lo", "liquidity_hi", "tick_current",
          "fee_num", "fee_den", "ready")  # fmt: skip


def table_rows(table: TableView, n: int) -> list[tuple[int, ...]]:
    return [tuple(int(table.read(i)[f]) for f in FIELDS) for i in range(n)]


def test_a_replay_rebuilds_the_recorded_table(instance: str, procs: Procs, tmp_path: Path) -> None:
    sim = start_sim(procs)
    cfg_path = tmp_path / "instance.toml"
    text = config_text(sim)
    cfg_path.write_text(text)
    cfg = parse(text, cfg_path)
    rec = tmp_path / "frames.rec"
    seg = InstanceSegments.create(instance, cfg)
    feeder = procs.start([str(executable("phantom-feeder")), "--instance", instance,
                          "--config", str(cfg_path), "--record", str(rec)])  # fmt: skip
    rx = RingEnd(seg.market, "consumer")
    table = TableView(seg.pools)

    def recorded() -> bool:
        assert feeder.poll() is None, feeder.stderr.read() if feeder.stderr else ""
        while rx.pop() is not None:
            pass
        return table_matches_market(table, sim)

    wait_until(recorded, timeout=120, what="the recording feeder's table to match the market")
    seg.control.store("run_state", 1)
    rc, _, err = finish(feeder, timeout=60)
    assert rc == 0, err
    # The table as the feeder left it: the state of everything it recorded.
    live = table_rows(table, cfg.n_pools)
    seg.remove()
    assert rec.stat().st_size > 16

    # Replay into a fresh instance as fast as possible: the feeder exits at the end.
    other = instance + "r"
    try:
        seg2 = InstanceSegments.create(other, cfg)
        rx2 = RingEnd(seg2.market, "consumer")
        replay = procs.start([str(executable("phantom-feeder")), "--instance", other,
                              "--config", str(cfg_path), "--replay", str(rec),
                              "--replay-speed", "max"])  # fmt: skip
        published = 0

        def replayed() -> bool:
            nonlocal published
            while rx2.pop() is not None:
                published += 1
            return replay.poll() is not None

        wait_until(replayed, timeout=120, what="the replay to finish")
        assert replay.returncode == 0, replay.stderr.read() if replay.stderr else ""
        while rx2.pop() is not None:
            published += 1
        assert published > 0
        assert table_rows(TableView(seg2.pools), cfg.n_pools) == live
        assert seg2.control.load("feeder_decode_errors") == 0
        seg2.remove()
    finally:
        for s in _native.list_segments(f"phantom-{other}-"):
            with contextlib.suppress(_native.SegmentError):
                _native.remove_segment(s)


def test_record_and_replay_commands(instance: str, procs: Procs, tmp_path: Path) -> None:
    sim = start_sim(procs)
    cfg_path = tmp_path / "instance.toml"
    cfg_path.write_text(config_text(sim))
    rec = tmp_path / "cli.rec"
    r = subprocess.run([sys.executable, "-m", "phantom_pipeline.cli", "record", "--config",
                        str(cfg_path), "--out", str(rec), "--duration", "2", "--instance",
                        instance], capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "frames" in r.stdout and rec.stat().st_size > 16
    r = subprocess.run([sys.executable, "-m", "phantom_pipeline.cli", "replay", str(rec),
                        "--config", str(cfg_path), "--speed", "max", "--instance", instance,
                        "--feeder-only"],
                       capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "published" in r.stdout
    assert not _native.list_segments(f"phantom-{instance}-"), "the commands remove their segments"


def test_a_foreign_file_is_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-recording.bin"
    bad.write_bytes(b"GIF89a" + bytes(64))
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[feeder]\nendpoints = [{ ws = "ws://127.0.0.1:1", rpc = "http://127.0.0.1:2" }]\n'
    )
    r = subprocess.run([str(executable("phantom-feeder")), "--config", str(cfg), "--instance",
                        "nosuchinstance", "--replay", str(bad)],
                       capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 1
    assert "not a phantom-pipeline recording" in r.stderr or "nosuchinstance" in r.stderr


def test_a_replay_runs_through_the_whole_pipeline(instance: str, procs: Procs,
                                                  tmp_path: Path) -> None:  # fmt: skip
    """Record the embedded default's market, then replay it at the recorded pace through
    feeder, strategy and signer: the run ends by itself and signs transactions. (As fast as
    possible, the whole recording can be in the table before the strategy reads its first
    tick, and the strategy prices every tick on that final state.)"""
    import json as _json
    import os

    from phantom_pipeline.embedded import default_config

    p = procs.start([str(executable("phantom-sim")), "--port", "0", "--rate", "3000",
                     "--dislocation-probability", "0.05", "--dislocation", "0.02"])  # fmt: skip
    assert p.stdout is not None
    ready = _json.loads(p.stdout.readline())
    key = tmp_path / "key.json"
    r = subprocess.run([str(executable("phantom-signer")), "--generate-keypair", str(key)],
                       capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    cfg = tmp_path / "pipeline.toml"
    cfg.write_text(default_config(ready, tmp_path, key))
    rec = tmp_path / "market.rec"
    cli = [sys.executable, "-m", "phantom_pipeline.cli"]
    r = subprocess.run([*cli, "record", "--config", str(cfg), "--out", str(rec), "--duration",
                        "3", "--instance", instance],
                       capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    # The simulator stays up only as the signer's JSON-RPC (its blockhash): the feeder reads
    # the recording, not the network.
    run_base = tempfile.mkdtemp(prefix="pp", dir="/tmp")  # a short control-socket path
    try:
        env = {**os.environ, "XDG_RUNTIME_DIR": run_base}
        r = subprocess.run([*cli, "replay", str(rec), "--config", str(cfg), "--speed", "1",
                            "--instance", instance], env=env,
                           capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    finally:
        shutil.rmtree(run_base, ignore_errors=True)
    assert r.returncode == 0, r.stderr + r.stdout
    signed = int(r.stdout.split("skipped,")[1].split("transactions")[0])
    assert signed > 0, r.stdout
    lines = (tmp_path / "capture.jsonl").read_text().splitlines()
    assert len(lines) == signed
    assert not _native.list_segments(f"phantom-{instance}-")
