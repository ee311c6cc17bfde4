"""The CLI commands that exist so far, with real segments and real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import Procs, finish
from phantom_pipeline import _native
from phantom_pipeline.segments import RingEnd, create_ring


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phantom_pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_inspect_shows_header_counters_and_validation(instance: str, seg_name) -> None:
    view = create_ring(seg_name("market"), "MarketUpdate", 256, instance=instance, role="market")
    RingEnd(view, "producer")
    r = cli("inspect", "market", "--instance", instance, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["validation"] == "ok"
    assert info["record_kind"].startswith("ring<MarketUpdate>")
    assert (info["capacity"], info["depth"], info["instance"], info["role"]) == (
        256,
        0,
        instance,
        "market",
    )
    assert info["live"] is True
    assert cli("inspect", "market", "--instance", instance).returncode == 0


def test_inspect_of_a_tampered_segment_fails_naming_the_field(seg_name) -> None:
    view = create_ring(seg_name("market"), "MarketUpdate", 64)
    view.raw[16] ^= 0xFF  # layout_hash
    r = cli("inspect", seg_name("market"), "--json")
    assert r.returncode == 1
    assert "layout_hash mismatch" in json.loads(r.stdout)["validation"]


def test_inspect_of_a_missing_segment_is_a_clear_error(instance: str) -> None:
    r = cli("inspect", "market", "--instance", instance)
    assert r.returncode == 1
    assert "does not exist" in r.stderr


def test_clean_removes_stale_and_keeps_live(instance: str, seg_name, procs: Procs) -> None:
    live = seg_name("live")
    create_ring(live, "ProbeRecord", 8)
    stale = seg_name("stale")
    # A stale segment of instance "<instance>-b": its name starts with "phantom-<instance>-",
    # but it is another instance's, so `clean --instance <instance>` leaves it alone.
    neighbour = f"phantom-{instance}-b-stale"
    for name in (stale, neighbour):
        rc, _, err = finish(
            procs.python(
                "-c",
                "import sys; from phantom_pipeline.segments import create_ring; "
                "create_ring(sys.argv[1], 'ProbeRecord', 8)",
                name,
            )
        )
        assert rc == 0, err
    r = cli("clean", "--instance", instance, "--stale-after-ms", "0", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["removed"] == [stale]
    assert [k["name"] for k in out["kept"]] == [live]
    assert neighbour in _native.list_segments(neighbour)
    r = cli("clean", "--instance", f"{instance}-b", "--stale-after-ms", "0", "--json")
    assert json.loads(r.stdout)["removed"] == [neighbour]


def test_bench_smoke_runs_the_harness_end_to_end() -> None:
    """The benchmark harness works (a figure is produced for every path); not a timing."""
    from phantom_bench import ring as benchring

    lat = benchring.ring_latency(200, "numba")
    assert lat["samples"] > 0 and lat["p50_ns"] > 0
    tp = benchring.ring_throughput(100_000, 64, "rust")
    assert tp["records"] == 100_000 and tp["records_per_s"] > 0
    assert benchring.mp_latency("pipe", 50)["samples"] > 0
    assert benchring.mp_throughput("queue", 1000)["records_per_s"] > 0


def test_signer_bench_smoke_measures_every_path() -> None:
    """The signer benchmark harness works end to end (not a timing)."""
    from phantom_bench import signer as benchsigner

    rep = benchsigner.run(200)
    for path in ("bare_sign", "sign_into_rfc8032", "sign_into_precomputed", "intent_to_signed"):
        assert rep["rust"][path]["samples"] == 200 and rep["rust"][path]["p50_ns"] > 0
    assert rep["python"]["pynacl_sign"]["p50_ns"] > 0
    assert rep["python"]["solders_sign"]["p50_ns"] > 0
    assert set(rep["targets"]) == {
        "intent_to_signed_within_1.1x_of_bare_sign",
        "precomputed_at_most_5us",
    }


def test_bench_e2e_command_writes_the_report_and_plots(tmp_path: Path) -> None:
    """`bench` (end to end) through the CLI on one quick system: report, plots, table."""
    out = tmp_path / "results"
    r = subprocess.run([sys.executable, "-m", "phantom_pipeline.cli", "bench", "--systems",
                        "all-rust,phantom-spin", "--rates", "2000", "--duration", "0.5",
                        "--results", str(out)],
                       capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rep = json.loads((out / "e2e.json").read_text())
    assert rep["suite"] == "e2e"
    assert rep["systems"]["all-rust"]["rates"]["2000"]["sent_to_signed_ns"]["count"] >= 0
    assert "skipped" in rep["systems"]["phantom-spin"] and "phantom-spin: skipped" in r.stdout
    assert (out / "e2e-throughput.png").stat().st_size > 0
    bad = subprocess.run([sys.executable, "-m", "phantom_pipeline.cli", "bench", "--systems",
                          "no-such-system"], capture_output=True, text=True, timeout=60,
                         check=False)  # fmt: skip
    assert bad.returncode == 1 and "unknown no-such-system" in bad.stderr
