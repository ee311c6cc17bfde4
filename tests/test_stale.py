"""Stale segments: what a SIGKILLed creator leaves behind is recognised as stale and removed;
a live segment is never removed."""

from __future__ import annotations

import os
import signal
import textwrap

import pytest

from conftest import Procs, wait_until
from phantom_pipeline import SegmentLiveError, _native
from phantom_pipeline.segments import attach_ring, create_ring

STALE_AFTER_NS = 300_000_000  # short, so the test need not wait 5 s; the logic is the same

CREATOR = textwrap.dedent(
    """
    import sys, time
    from phantom_pipeline.segments import create_ring, RingEnd
    view = create_ring(sys.argv[1], "ProbeRecord", 64)
    end = RingEnd(view, "producer")
    print("ready", flush=True)
    while True:  # a live producer: heartbeats until killed
        end.heartbeat()
        view.segment.creator_heartbeat()
        time.sleep(0.01)
    """
)


def test_sigkilled_creator_leaves_a_stale_segment_that_clean_removes(
    seg_name, procs: Procs
) -> None:
    name = seg_name("market")
    p = procs.python("-c", CREATOR, name)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    seg = attach_ring(name, "ProbeRecord").segment
    live, why = seg.liveness(STALE_AFTER_NS)
    assert live and "lock is held" in why  # the creator maps it (and is running)
    with pytest.raises(SegmentLiveError):
        _native.remove_if_stale(name, STALE_AFTER_NS)

    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    # This process's own mapping holds the segment's lock too: let go of it first.
    del seg

    def verdict() -> tuple[bool, str]:
        return _native.Segment.open_unchecked(name).liveness(STALE_AFTER_NS)

    wait_until(lambda: not verdict()[0], what="the segment to go stale")
    assert "is gone" in verdict()[1]
    removed, kept = _native.clean_stale(name, STALE_AFTER_NS)
    assert removed == [name] and kept == []
    assert name not in _native.list_segments(name)


def test_live_segment_is_never_removed_even_with_no_heartbeat_tolerance(seg_name) -> None:
    name = seg_name("market")
    create_ring(name, "ProbeRecord", 64)  # created by this (live) process
    with pytest.raises(SegmentLiveError, match="creator pid"):
        _native.remove_if_stale(name, 0)
    removed, kept = _native.clean_stale(name, 0)
    assert removed == [] and [k for k, _ in kept] == [name]
    assert _native.list_segments(name) == [name]
