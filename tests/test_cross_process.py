"""Real processes on both ends of a ring: ≥ 10 M records each way, every one verified
(gapless seq, payload checksum), with wraparound at small capacities and indices that start
just below 2**62."""

from __future__ import annotations

import json

import pytest

from conftest import Procs, finish
from phantom_pipeline.segments import create_ring

COUNT = 10_000_000
CASES = [
    pytest.param(8, (1 << 62) - 5, id="cap8-near-2^62"),
    pytest.param(1024, 0, id="cap1024-from-0"),
]


@pytest.mark.parametrize("direction", ["rust_to_numba", "numba_to_rust"])
@pytest.mark.parametrize(("capacity", "start"), CASES)
def test_every_record_crosses_between_rust_and_numba_processes_verified(
    direction: str, capacity: int, start: int, seg_name, procs: Procs
) -> None:
    name = seg_name("probe")
    create_ring(name, "ProbeRecord", capacity, initial_index=start)
    args = ("--ring", name, "--count", str(COUNT))
    probe = ("-m", "phantom_bench.probe")
    if direction == "rust_to_numba":
        consumer = procs.python(*probe, "consume", *args)
        producer = procs.ring_tool("produce", *args)
    else:
        consumer = procs.ring_tool("consume", *args)
        producer = procs.python(*probe, "produce", *args)
    prc, pout, perr = finish(producer)
    crc, cout, cerr = finish(consumer)
    assert prc == 0, perr
    assert crc == 0, cerr
    got = json.loads(cout)
    assert got["consumed"] == COUNT and got["verified"] is True
    assert got["head"] == start + COUNT == json.loads(pout)["tail"]


def test_a_corrupted_record_is_detected_by_the_consumer(seg_name, procs: Procs) -> None:
    """The verification is real: flip one payload byte in flight and the consumer fails."""
    from phantom_pipeline.segments import RingEnd

    name = seg_name("probe")
    view = create_ring(name, "ProbeRecord", 16)
    rc, _, err = finish(procs.ring_tool("produce", "--ring", name, "--count", "10"))
    assert rc == 0, err
    view.slots[3]["payload"][2] ^= 1
    assert RingEnd(view, "consumer").available() == 10
    crc, _, cerr = finish(
        procs.python("-m", "phantom_bench.probe", "consume", "--ring", name, "--count", "10")
    )
    assert crc == 1
    assert "bad record at ring index 3" in cerr
