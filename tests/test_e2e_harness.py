"""The end-to-end benchmark harness: its joins on synthetic logs (exact), and a smoke run of
the real thing (a short market into phantom and the baselines) that checks the harness works
and the report has the DESIGN §7 shape. No timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phantom_bench.e2e import harness


def write_send_log(path: Path, rows: list[tuple[int, int, int, int]]) -> None:
    np.array(rows, dtype=harness.SEND_LOG).tofile(path)


def test_phantom_join_follows_tick_to_frame_to_send(tmp_path: Path) -> None:
    # Two connections (ids 5 and 9): the feeder's second connection is ordinal 1.
    write_send_log(tmp_path / "send.log", [
        (100, 1, 0, 5), (110, 1, 0xFFFFFFFF, 5), (120, 1, 2, 5),
        (300, 2, 1, 9), (310, 2, 1, 9),
    ])  # fmt: skip
    frames = np.zeros(5, dtype=harness.FRAME_LOG)
    for i, (t, idx, conn) in enumerate([(150, 0, 0), (160, 1, 0), (170, 2, 0), (400, 0, 1),
                                        (410, 1, 1)]):  # fmt: skip
        frames[i]["t"], frames[i]["idx"], frames[i]["conn"] = t, idx, conn
    frames.tofile(tmp_path / "frames.log")
    lines = [
        # tick from frame 2 of connection 0 (sent at 120)
        {"t_tick_recv_ns": 170, "t_tick_pub_ns": 180, "t_strategy_read_ns": 190,
         "t_intent_ns": 200, "t_intent_read_ns": 230, "t_signed_ns": 260},
        # tick from a refetch (no frame): left out
        {"t_tick_recv_ns": 175, "t_tick_pub_ns": 180, "t_strategy_read_ns": 190,
         "t_intent_ns": 200, "t_intent_read_ns": 230, "t_signed_ns": 260},
        # frame 1 of connection 1 (sent at 310)
        {"t_tick_recv_ns": 410, "t_tick_pub_ns": 420, "t_strategy_read_ns": 430,
         "t_intent_ns": 440, "t_intent_read_ns": 450, "t_signed_ns": 500},
    ]  # fmt: skip
    (tmp_path / "capture.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    sends = harness.send_times(tmp_path / "send.log")
    j = harness.join_phantom(tmp_path / "frames.log", tmp_path / "capture.jsonl", sends)
    assert j["t_send"].tolist() == [120, 310]
    hops = harness.phantom_hops(j)
    assert hops["sent_to_signed"].tolist() == [140, 190]
    assert hops["sent_to_recv"].tolist() == [50, 100]
    assert hops["intent_to_signer"].tolist() == [30, 10]
    assert harness.account_frames(tmp_path / "send.log") == 4


def test_other_join_uses_the_reported_frame_index(tmp_path: Path) -> None:
    write_send_log(tmp_path / "send.log", [(1000 + 10 * k, 1, 0, 3) for k in range(5)])
    sends = harness.send_times(tmp_path / "send.log")
    signed = [[4, 1100, 1110, 1120, 1200], [1, 1050, 1060, 1070, 1080], [9, 0, 0, 0, 0]]
    hops = harness.other_hops(signed, sends)
    assert hops["sent_to_signed"].tolist() == [160, 70], "frame 9 was never sent: left out"
    assert hops["decision_to_signed"].tolist() == [80, 10]


def test_percentiles_are_hdr_within_three_digits() -> None:
    v = np.arange(1, 100_001, dtype=np.int64)
    p = harness.percentiles(v)
    assert p["count"] == 100_000 and p["max"] == 100_000
    for key, want in (("p50", 50_000), ("p90", 90_000), ("p99", 99_000), ("p999", 99_900)):
        assert abs(p[key] - want) <= want / 500, (key, p[key])
    assert harness.percentiles(np.zeros(0, dtype=np.int64)) == {"count": 0}


def test_spin_is_skipped_with_a_reason_without_a_core_per_spinner() -> None:
    reason = harness.skip_reason("phantom-spin", 2)
    assert reason is not None and "core" in reason
    assert harness.skip_reason("phantom-adaptive", 2) is None


@pytest.mark.parametrize("systems", [("phantom-adaptive", "all-rust", "pure-python-tuned")])
def test_smoke_run_has_the_design_shape(tmp_path: Path, systems: tuple[str, ...]) -> None:
    rep = harness.run(systems=("phantom-spin", *systems), rates=(2000,), duration_s=1.0,
                      idle_s=0, workdir=tmp_path)  # fmt: skip
    assert set(rep["machine"]) >= {"cpu", "cores", "kernel", "pinned"}
    assert "skipped" in rep["systems"]["phantom-spin"]
    for name in systems:
        s = rep["systems"][name]
        r = s["rates"]["2000"]
        assert "error" not in r, (name, r)
        assert set(r) >= {"offered", "achieved", "lost", "sent_to_signed_ns", "hops", "cpu_pct",
                          "rss_bytes"}  # fmt: skip
        assert r["signed"] > 0, f"{name}: the market dislocates often enough to sign"
        lat = r["sent_to_signed_ns"]
        assert lat["count"] > 0, f"{name}: signed transactions join back to sent frames"
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
        assert s["sent_to_signed_ns"] == lat
    assert set(rep["ratios_to_phantom_adaptive"]) == set(systems) - {"phantom-adaptive"}
    plots = harness.plot(rep, tmp_path / "plots")
    assert all(p.stat().st_size > 0 for p in plots) and len(plots) == 2
