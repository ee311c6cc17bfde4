"""The feeder benchmark harness: shape and internal consistency of its report (no timing
asserts: the machine is shared)."""

from __future__ import annotations

from phantom_bench import feeder as benchfeeder
from phantom_pipeline import _native


def test_small_run_reports_consistent_counts(instance: str) -> None:
    frames, slot_every = 6_000, 50
    rep = benchfeeder.run(
        frames=frames, warmup=500, python_frames=1_000, slot_every=slot_every, pools=4,
        instance=instance, timeout=300,
    )  # fmt: skip
    assert set(rep) == {"rust", "python", "ratios", "targets"}
    rust = rep["rust"]
    assert (rust["frames"], rust["vault_pools"], rust["vault_accounts"]) == (frames, 4, 8)
    assert set(rust["runs"]) == {"inline", "thread"}
    for mode, r in rust["runs"].items():
        assert r["consumer"] == mode
        # Every account frame fed was one notification, decoded without error.
        assert r["account_frames"] == frames == r["notifications"]
        assert r["frames_fed"] == r["account_frames"] + r["slot_frames"]
        assert r["slot_frames"] == frames // slot_every
        for counter in ("bad_frames", "decode_errors", "unknown_subscriptions", "duplicates",
                        "refused", "stale_slot", "overflows", "resyncs"):  # fmt: skip
            assert r[counter] == 0, (mode, counter)
        # Two-vault rule: the first vault of a pool in a new slot waits for the second, so at
        # most one notification per pool per slot is merged into the next publish.
        published = r["pool_updates_published"]
        assert frames - 4 * (r["slot_frames"] + 1) <= published <= frames
        # Everything published reached the consumer, with its latency recorded.
        assert r["ring_pool_updates"] == published
        assert r["ring_slot_events"] == r["slot_frames"]
        assert r["ring_other_events"] == 0
        lat = r["t_pub_minus_t_recv"]
        assert lat["samples"] == published
        assert 0 <= lat["p50_ns"] <= lat["p99_ns"] <= lat["max_ns"]
        assert r["frames_per_s"] > 0 and r["notifications_per_s"] > 0
    py = rep["python"]
    assert py["frames"] == 1_000
    assert py["per_frame"]["samples"] == 1_000
    assert py["frames_per_s"] > 0
    assert rep["ratios"]["primary"] == "inline"
    assert "rust_inline_over_python_throughput" in rep["ratios"]
    assert isinstance(rep["targets"]["notifications_500k_per_s_one_core"], bool)
    # The binary removed its segments on exit.
    assert _native.list_segments(f"phantom-{instance}-") == []


def test_python_parse_reads_the_vault_amount() -> None:
    amount = 123_456_789_012
    data = bytes(64) + amount.to_bytes(8, "little") + bytes(93)
    import base64

    frame = (
        '{"jsonrpc":"2.0","method":"accountNotification","params":{"result":{"context":'
        '{"slot":42},"value":{"lamports":2039280,"data":["'
        + base64.b64encode(data).decode()
        + '","base64"],"owner":"TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA","executable":false,'
        '"rentEpoch":18446744073709551615,"space":165}},"subscription":7}}'
    )
    assert benchfeeder.parse_frame(frame) == (7, 42, amount)
