"""Attach validation: a live ring whose header was tampered with is refused, from Python and
from a Rust process, with an error naming the field and both values; truncated and foreign
objects in /dev/shm are refused too."""

from __future__ import annotations

import os

import pytest

from conftest import Procs, finish
from phantom_pipeline import SchemaMismatchError, SegmentTruncatedError, _native
from phantom_pipeline.segments import RingEnd, attach_ring, create_ring

# (field, byte offset, length)
FIELDS = [
    ("magic", 0, 8),
    ("abi_version", 8, 4),
    ("layout_hash", 16, 8),
    ("record_size", 24, 4),
]


@pytest.mark.parametrize(("field", "offset", "length"), FIELDS)
def test_rewritten_header_field_is_refused_from_python_and_rust(
    field: str, offset: int, length: int, seg_name, procs: Procs
) -> None:
    name = seg_name("market")
    view = create_ring(name, "ProbeRecord", 64)
    RingEnd(view, "producer")  # a live ring: it has a producer
    original = int.from_bytes(view.raw[offset : offset + length].tobytes(), "little")
    tampered = original ^ 0x0123456789ABCDEF & ((1 << (8 * length)) - 1)
    view.raw[offset : offset + length] = list(tampered.to_bytes(length, "little"))

    with pytest.raises(SchemaMismatchError) as exc:
        attach_ring(name, "ProbeRecord")
    e = exc.value
    assert (e.segment, e.field) == (name, field)
    assert f"{field} mismatch" in str(e) and name in str(e)
    # both values are named: for the hash, in hex
    if field == "layout_hash":
        assert f"{tampered:#018x}" in str(e) and f"{original:#018x}" in str(e)
    elif field in ("abi_version", "record_size"):
        assert f"found {tampered}, expected {original}" in str(e)

    rc, _, err = finish(procs.ring_tool("consume", "--ring", name, "--count", "1"))
    assert rc == 1
    assert f"{field} mismatch" in err and name in err
    if field == "layout_hash":
        assert f"{tampered:#018x}" in err and f"{original:#018x}" in err


def test_capacity_other_than_expected_is_refused(seg_name, procs: Procs) -> None:
    name = seg_name("market")
    create_ring(name, "ProbeRecord", 64)
    with pytest.raises(SchemaMismatchError) as exc:
        attach_ring(name, "ProbeRecord", capacity=128)
    assert exc.value.field == "capacity"
    assert "found 64, expected 128" in str(exc.value)
    rc, _, err = finish(
        procs.ring_tool("consume", "--ring", name, "--count", "1", "--capacity", "128")
    )
    assert rc == 1 and "capacity mismatch: found 64, expected 128" in err


def test_wrong_record_kind_is_refused(seg_name) -> None:
    name = seg_name("market")
    create_ring(name, "MarketUpdate", 64)
    with pytest.raises(SchemaMismatchError) as exc:
        attach_ring(name, "OrderIntent")
    assert exc.value.field == "record_kind"
    assert "ring<MarketUpdate>" in str(exc.value) and "ring<OrderIntent>" in str(exc.value)


def _write_file(name: str, data: bytes) -> None:
    fd = os.open(f"/dev/shm/{name}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def test_truncated_object_is_refused(seg_name, procs: Procs) -> None:
    name = seg_name("market")
    _write_file(name, b"PHNTMRB1" + bytes(200))
    with pytest.raises(SegmentTruncatedError, match="truncated: 208 bytes"):
        attach_ring(name, "ProbeRecord")
    rc, _, err = finish(procs.ring_tool("consume", "--ring", name, "--count", "1"))
    assert rc == 1 and "truncated" in err


def test_foreign_object_is_refused_and_never_cleaned(seg_name, procs: Procs) -> None:
    name = seg_name("market")
    _write_file(name, os.urandom(8192))
    with pytest.raises(SchemaMismatchError) as exc:
        attach_ring(name, "ProbeRecord")
    assert exc.value.field == "magic"
    rc, _, err = finish(procs.ring_tool("consume", "--ring", name, "--count", "1"))
    assert rc == 1 and "magic mismatch" in err
    removed, kept = _native.clean_stale(name, 0)
    assert removed == [] and kept[0][0] == name
    assert os.path.exists(f"/dev/shm/{name}")


def test_missing_segment_says_so() -> None:
    from phantom_pipeline import SegmentNotFoundError

    with pytest.raises(SegmentNotFoundError, match="does not exist"):
        attach_ring("phantom-no-such-instance-market", "ProbeRecord")
