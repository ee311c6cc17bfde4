"""``phantom-pipeline bench --suite X --json`` runs suite X and says so: each suite's report
names its suite and has that suite's shape (not a timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest


def _bench(*args: str) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-m", "phantom_pipeline.cli", "bench", *args, "--json"],
                       capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_signer_suite_reports_the_signer_paths() -> None:
    rep = _bench("--suite", "signer")
    assert rep["suite"] == "signer"
    for path in ("bare_sign", "sign_into_rfc8032", "sign_into_precomputed", "intent_to_signed"):
        assert rep["rust"][path]["p50_ns"] > 0
    assert "intent_to_signed_within_1.1x_of_bare_sign" in rep["targets"]
    assert "latency_one_way_ns" not in rep and "frames" not in rep["rust"]


def test_ring_suite_reports_latency_and_throughput() -> None:
    rep = _bench("--suite", "ring")
    assert rep["suite"] == "ring"
    assert rep["latency_one_way_ns"]["rust_to_rust"]["p50_ns"] > 0
    assert rep["throughput_records_per_s"]
    assert "rust" not in rep


def test_feeder_suite_reports_ingest() -> None:
    rep = _bench("--suite", "feeder")
    assert rep["suite"] == "feeder"
    assert rep["rust"]["frames"] > 0 and "rust_inline_over_python_throughput" in rep["ratios"]
    assert "latency_one_way_ns" not in rep and "bare_sign" not in rep["rust"]


@pytest.mark.parametrize("suite", ["nope"])
def test_unknown_suite_is_refused(suite: str) -> None:
    r = subprocess.run([sys.executable, "-m", "phantom_pipeline.cli", "bench", "--suite", suite],
                       capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 2 and "nope" in r.stderr
