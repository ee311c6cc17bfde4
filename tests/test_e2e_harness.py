"""The end-to-end benchmark harness: its joins on synthetic logs (exact), and a smoke run of
the real thing (a short market into phantom and the baselines) that checks the harness works
and the report has the DESIGN §7 shape. No timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
                          "rss_bytes", "cpu_s", "cpu_us_per_update",
                          "cpu_us_per_signed"}  # fmt: skip
        # CPU per update and per signed transaction: the system's processes' CPU seconds
        # (phantom: the supervisor included), divided by what was delivered and signed.
        total = sum(r["cpu_s"].values())
        assert total > 0
        assert r["cpu_us_per_update"] == pytest.approx(total * 1e6 / max(1, r["achieved"]),
                                                       rel=0.5)  # fmt: skip
        # (cpu_s is rounded to 0.1 ms in the report)
        assert r["cpu_us_per_signed"] == pytest.approx(total * 1e6 / r["signed"], rel=0.01,
                                                       abs=1.0)  # fmt: skip
        if name == "phantom-adaptive":
            assert set(r["cpu_s"]) == {"feeder", "signer", "strategy", "supervisor"}
        assert r["signed"] > 0, f"{name}: the market dislocates often enough to sign"
        lat = r["sent_to_signed_ns"]
        assert lat["count"] > 0, f"{name}: signed transactions join back to sent frames"
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
        assert s["sent_to_signed_ns"] == lat
    assert set(rep["ratios_to_phantom_adaptive"]) == set(systems) - {"phantom-adaptive"}
    plots = harness.plot(rep, tmp_path / "plots")
    assert all(p.stat().st_size > 0 for p in plots) and len(plots) == 2


def _rep(p50: dict[str, float], p99: dict[str, float], cpu: dict[str, float]) -> dict[str, Any]:
    """One run's report with one rate (2000) per system: the fields repeat.summarise reads."""
    return {
        "systems": {
            n: {"rates": {"2000": {"sent_to_signed_ns": {"p50": p50[n] * 1e3, "p99": p99[n] * 1e3},
                                   "cpu_us_per_update": cpu[n], "cpu_us_per_signed": cpu[n] * 2}}}
            for n in p50
        },
        "idle": {"cpu_pct": {"feeder": 0.1, "strategy": 0.4}},
    }  # fmt: skip


def test_repeat_summarises_same_run_ratios_and_judges_the_goals() -> None:
    from phantom_bench.e2e import repeat

    names = ("phantom-adaptive", "all-rust", "pure-python-tuned")
    runs = [
        # phantom: p50 0.5x tuned and 1.25x rust, p99 0.2x tuned, CPU 0.4x tuned: all met.
        _rep(dict(zip(names, (100, 80, 200), strict=True)), dict(zip(names, (200, 150, 1000), strict=True)),
             dict(zip(names, (20, 10, 50), strict=True))),
        # A slower run: both sides slower, the same ratios.
        _rep(dict(zip(names, (200, 160, 400), strict=True)), dict(zip(names, (400, 300, 2000), strict=True)),
             dict(zip(names, (40, 20, 100), strict=True))),
        # One bad run: the median still holds.
        _rep(dict(zip(names, (300, 100, 200), strict=True)), dict(zip(names, (900, 150, 1000), strict=True)),
             dict(zip(names, (60, 10, 50), strict=True))),
    ]  # fmt: skip
    s = repeat.summarise(runs)
    f = s["figures"]["phantom-adaptive"]["2000"]
    assert f["p50_us"] == {"n": 3, "median": 200, "min": 100, "max": 300}
    g = s["goals"]
    assert g["p50 ≤ 0.6x pure-python-tuned"]["ratio"]["2000"] == {
        "n": 3, "median": 0.5, "min": 0.5, "max": 1.5}  # fmt: skip
    assert g["p50 ≤ 0.6x pure-python-tuned"]["met"]
    assert g["p50 ≤ 1.5x all-rust"]["met"]
    assert g["p99 ≤ 0.25x pure-python-tuned"]["met"]
    assert g["CPU per update ≤ 0.5x pure-python-tuned"]["met"]
    assert g["idle CPU < 1 % of a core per process"]["met"]
    # The same runs judged against a stricter all-rust goal fail it.
    runs[0]["systems"]["all-rust"]["rates"]["2000"]["sent_to_signed_ns"]["p50"] = 40_000
    runs[1]["systems"]["all-rust"]["rates"]["2000"]["sent_to_signed_ns"]["p50"] = 80_000
    assert not repeat.summarise(runs)["goals"]["p50 ≤ 1.5x all-rust"]["met"]
    # A goal with no figures is not met (never vacuously true).
    del runs[0]["systems"]["pure-python-tuned"], runs[1]["systems"]["pure-python-tuned"]
    del runs[2]["systems"]["pure-python-tuned"]
    assert not repeat.summarise(runs)["goals"]["p50 ≤ 0.6x pure-python-tuned"]["met"]
    md = repeat.markdown({"label": "t", "duration_s": 5, "summary": s,
                          "runs": [{"load_before": "1", "load_after": "2"}] * 3})  # fmt: skip
    assert "| phantom-adaptive | 2,000 | 200 (100-300) |" in md and "not met" not in md
