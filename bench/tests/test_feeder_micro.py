"""pytest-benchmark micro-benchmarks of the feeder ingest baseline: the Python parse of a
vault ``accountNotification`` (json + base64 + amount), and a smoke run of the Rust ingest
benchmark (``phantom-feeder-bench`` through ``benchfeeder.run``).

The Rust decoders have no Python bindings, so the Rust side is measured by its own binary;
``phantom-pipeline bench --suite feeder`` runs the full comparison.
"""

from __future__ import annotations

import base64
import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

from phantom_bench import feeder as benchfeeder
from phantom_pipeline import _native


def _frames(n: int) -> list[str]:
    """Vault frames as the simulator writes them, a different amount in each."""
    out = []
    for i in range(n):
        data = bytes(range(64)) + (10**12 + i).to_bytes(8, "little") + bytes(93)
        out.append(
            '{"jsonrpc":"2.0","method":"accountNotification","params":{"result":{"context":'
            f'{{"slot":{300_000_000 + i // 64}}},"value":{{"lamports":2039280,"data":["'
            f'{base64.b64encode(data).decode()}","base64"],'
            '"owner":"TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA","executable":false,'
            f'"rentEpoch":18446744073709551615,"space":165}}}},"subscription":{7000 + i % 16}}}}}'
        )
    return out


@pytest.fixture
def instance() -> Iterator[str]:
    name = f"mbf{os.getpid()}x{uuid.uuid4().hex[:6]}"
    yield name
    for seg in _native.list_segments(f"phantom-{name}-"):
        with contextlib.suppress(_native.SegmentError):
            _native.remove_segment(seg)


def test_python_parse_vault_frame_x1000(benchmark) -> None:  # type: ignore[no-untyped-def]
    frames = _frames(1000)

    def parse_all() -> int:
        total = 0
        for f in frames:
            total += benchfeeder.parse_frame(f)[2]
        return total

    assert benchmark(parse_all) == sum(10**12 + i for i in range(1000))


def test_rust_ingest_smoke(benchmark, instance) -> None:  # type: ignore[no-untyped-def]
    kwargs = {"frames": 20_000, "warmup": 1_000, "python_frames": 500, "consumer": "inline"}
    rep = benchmark.pedantic(
        benchfeeder.run, kwargs={**kwargs, "instance": instance}, rounds=1, iterations=1
    )
    r = rep["rust"]["runs"]["inline"]
    assert r["notifications"] == 20_000 and r["decode_errors"] == 0
    assert _native.list_segments(f"phantom-{instance}-") == []
