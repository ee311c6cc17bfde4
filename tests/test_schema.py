"""The seam: numpy dtypes derived from the Rust schema, offset parity, field round trips
between a Rust process and this one."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import Procs, finish
from phantom_pipeline import _native, schema
from phantom_pipeline.segments import RingEnd, attach_ring, create_ring, create_table

# (record, container it travels in)
RECORDS = [
    ("MarketUpdate", "ring"),
    ("PoolState", "table"),
    ("OrderIntent", "ring"),
    ("ExecReport", "ring"),
    ("SupervisorBlock", "table"),
    ("FeederBlock", "table"),
    ("SignerBlock", "table"),
    ("StrategyBlock", "table"),
    ("ProbeRecord", "ring"),
]


def test_header_first_32_bytes_and_index_lines_are_where_the_contract_puts_them() -> None:
    dt = schema.HEADER_DTYPE
    expected = {
        "magic": (0, "<u8"),
        "abi_version": (8, "<u4"),
        "record_kind": (12, "<u4"),
        "layout_hash": (16, "<u8"),
        "record_size": (24, "<u4"),
        "capacity": (28, "<u4"),
        "tail": (256, "<u8"),
        "head": (384, "<u8"),
        "waiter": (512, "<u4"),
    }
    for name, (offset, code) in expected.items():
        fdt, off = dt.fields[name][:2]  # type: ignore[index]
        assert (off, fdt.str) == (offset, code), name
    assert dt.itemsize == 4096 == _native.HEADER_SIZE
    # tail, head and waiter each own a 128-byte line: no other field shares it.
    for line_start in (256, 384, 512):
        inside = [
            n
            for n in dt.names or ()
            if line_start <= dt.fields[n][1] < line_start + 128  # type: ignore[index]
            and not n.startswith("_")
        ]
        assert len(inside) == 1, (line_start, inside)
    assert int.from_bytes(b"PHNTMRB1", "little") == _native.MAGIC


@pytest.mark.parametrize("record", [r for r, _ in RECORDS] + ["SegmentHeader"])
def test_numpy_offsets_and_sizes_equal_rusts_offset_of_and_size_of(record: str) -> None:
    spec = _native.schema()[record]
    dt = schema.dtype_of(record)
    assert dt.itemsize == spec["size"]
    assert dt.itemsize % 64 == 0
    assert list(dt.names or ()) == [f[0] for f in spec["fields"]]
    for name, code, count, offset, elem_size, _doc in spec["fields"]:
        fdt, off = dt.fields[name][:2]  # type: ignore[index]
        assert off == offset, name
        assert fdt.base.str == np.dtype(code).str, name
        assert fdt.base.itemsize == elem_size, name
        assert (fdt.shape or (1,)) == ((count,) if count > 1 else (1,)), name


@pytest.mark.parametrize("record", [r for r, _ in RECORDS])
def test_layout_hash_recomputed_from_the_numpy_dtype_matches_rust(record: str) -> None:
    dt = schema.dtype_of(record)
    fields = [
        (n, dt.fields[n][0].base.str, int(np.prod(dt.fields[n][0].shape or (1,))), dt.fields[n][1])  # type: ignore[index]
        for n in dt.names or ()
    ]
    assert _native.layout_hash(fields, dt.itemsize) == schema.layout_hash(record)
    # ... and any change to the table changes the hash.
    moved = [*fields[:-1], (fields[-1][0], fields[-1][1], fields[-1][2], fields[-1][3] + 1)]
    assert _native.layout_hash(moved, dt.itemsize) != schema.layout_hash(record)


def _make(record: str, container: str, name: str) -> np.ndarray:  # type: ignore[type-arg]
    if container == "ring":
        return create_ring(name, record, 8).slots
    return create_table(name, record, 2).slots


@pytest.mark.parametrize(("record", "container"), RECORDS)
def test_every_field_written_in_python_is_read_back_by_a_rust_process(
    record: str, container: str, seg_name, procs: Procs
) -> None:
    name = seg_name("rt")
    seed = 0xC0FFEE ^ hash(record) & 0xFFFF
    if container == "ring":
        view = create_ring(name, record, 8)
        tx = RingEnd(view, "producer")
        rec = np.zeros(1, dtype=view.slots.dtype)
        schema.fill_pattern(rec[0], seed)
        assert tx.push(rec[0])
    else:
        view = create_table(name, record, 2)
        schema.fill_pattern(view.slots[0], seed)
    rc, out, err = finish(
        procs.ring_tool(
            "pattern-check",
            "--segment",
            name,
            "--record",
            record,
            "--container",
            container,
            "--seed",
            str(seed),
        )
    )
    assert rc == 0, err
    assert f'"fields":{len(view.slots.dtype.names)}' in out


@pytest.mark.parametrize(("record", "container"), RECORDS)
def test_every_field_written_by_a_rust_process_is_read_back_in_python(
    record: str, container: str, seg_name, procs: Procs
) -> None:
    name = seg_name("rt")
    seed = 0xBEEF ^ hash(record) & 0xFFFF
    view = create_ring(name, record, 8) if container == "ring" else create_table(name, record, 2)
    rc, _, err = finish(
        procs.ring_tool(
            "pattern-write",
            "--segment",
            name,
            "--record",
            record,
            "--container",
            container,
            "--seed",
            str(seed),
        )
    )
    assert rc == 0, err
    if container == "ring":
        got = RingEnd(attach_ring(name, record), "consumer").pop()
        assert got is not None
    else:
        got = view.slots[0]
    assert schema.pattern_mismatches(got, seed) == []
    # The check has teeth: another seed mismatches every field.
    assert len(schema.pattern_mismatches(got, seed + 1)) == len(view.slots.dtype.names)


def test_the_control_block_is_split_by_writer_and_others_tables_are_read_only(
    instance: str,
) -> None:
    """Each writer maps only its own control table writable: another's field is refused by
    the accessor, read-only to numpy, and faults below (O_RDONLY mapping)."""
    import pytest

    from phantom_pipeline.control import CONTROL_SEGMENTS, Control, ReadOnlyFieldError

    created = Control.create(instance)
    assert [v.name for v in created.segment_views] == [
        f"phantom-{instance}-{role}" for role, _record in CONTROL_SEGMENTS
    ]
    strategy = Control.attach(instance, "strategy")
    strategy.store("hb_strategy_ns", 7)
    assert created.load("hb_strategy_ns") == 7
    created.store("kill_switch", 1)
    for field in ("kill_switch", "run_state", "hb_signer_ns", "hb_feeder_ns"):
        with pytest.raises(ReadOnlyFieldError, match=f"{field} belongs to phantom-{instance}-"):
            strategy.store(field, 0)
    with pytest.raises(ValueError, match="read-only"):
        strategy.views["control"].slots[0]["kill_switch"] = 0
    with pytest.raises(ReadOnlyFieldError):
        strategy.set_str("params_path", "/tmp/x")
    assert strategy.load("kill_switch") == 1
    assert [v.segment.writable for v in strategy.segment_views] == [False, False, False, True]
    reader = Control.attach(instance, "reader")
    assert not any(v.segment.writable for v in reader.segment_views)
    supervisor = Control.attach(instance, "supervisor")
    supervisor.store("kill_switch", 0)
    assert reader.load("kill_switch") == 0
    with pytest.raises(ValueError, match="unknown control writer"):
        Control.attach(instance, "everyone")


def test_a_dropped_control_unmaps_at_once(instance: str) -> None:
    """Dropping the last reference to a Control frees it (and unmaps its tables) then and
    there, with no cycle left for the garbage collector: a cycle kept a stopped instance's
    segments mapped, and so its locks held, in the process that had looked at it."""
    import gc
    import weakref

    from phantom_pipeline.control import Control

    created = Control.create(instance)
    gc.disable()
    try:
        attached = Control.attach(instance, "reader")
        assert attached.entry["restarts"].shape == (4,)
        views = [weakref.ref(v) for v in attached.segment_views]
        gone = weakref.ref(attached)
        del attached
        assert gone() is None and all(v() is None for v in views)
    finally:
        gc.enable()
    del created
