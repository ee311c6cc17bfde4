"""Zero-copy numpy views of shared-memory segments, and the ends of a ring.

``create_ring`` / ``attach_ring`` / ``create_table`` / ``attach_table`` return a
``SegmentView``: the mapping (kept alive by every array derived from it), the header as a
structured scalar view, the slots as a structured array of the record's dtype, and the same
slots as raw bytes. Attaching validates the header in Rust (magic, abi_version, record_kind,
layout_hash, record_size, capacity) and raises ``SchemaMismatchError`` naming the field.

``RingEnd`` is one end of a ring (producer or consumer) for numba code: pass ``end.state``
and ``end.slots`` / ``end.slot_bytes`` to the functions of ``phantom_pipeline.ringops``.
There must be one producer and one consumer per ring at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from phantom_pipeline import _native, ringops
from phantom_pipeline.schema import HEADER_DTYPE, dtype_of

Container = Literal["ring", "table"]
HEADER_SIZE: int = _native.HEADER_SIZE


class AnonymousMemory:
    """Process-private memory laid out like a segment (header + slots), for work that must
    not touch shared memory: the sandboxed strategy warms its JIT on it, since it can no longer
    create segments once sandboxed, and never warms on the live ones."""

    def __init__(self, record: str, container: Container, capacity: int) -> None:
        dt = dtype_of(record)
        size = HEADER_SIZE + capacity * dt.itemsize
        # 64-byte aligned, as a mapping would be (the records are align(64)).
        self.buffer = np.zeros(size + 64, dtype=np.uint8)
        offset = (-self.buffer.ctypes.data) % 64
        self.raw = self.buffer[offset : offset + size]
        header = self.raw[:HEADER_SIZE].view(HEADER_DTYPE)
        header[0]["magic"] = _native.MAGIC
        header[0]["abi_version"] = _native.ABI_VERSION
        header[0]["record_kind"] = _native.record_kind(record, container)
        header[0]["record_size"] = dt.itemsize
        header[0]["capacity"] = capacity
        header[0]["header_size"] = HEADER_SIZE
        self.name = f"anonymous {container}<{record}>"
        self.address = int(self.raw.ctypes.data)

    #: Private memory is always this process's to write.
    writable = True

    def creator_heartbeat(self) -> None:
        """Nothing to do: no other process watches private memory."""


@dataclass(eq=False)
class SegmentView:
    """A mapped segment seen through numpy. All arrays alias the shared memory (or, for an
    :class:`AnonymousMemory`, process-private memory)."""

    segment: _native.Segment | AnonymousMemory
    record: str
    container: Container
    raw: np.ndarray[Any, np.dtype[np.uint8]] = field(repr=False)
    header: np.ndarray[Any, Any] = field(repr=False)
    slots: np.ndarray[Any, Any] = field(repr=False)
    slot_bytes: np.ndarray[Any, np.dtype[np.uint8]] = field(repr=False)

    @classmethod
    def wrap(
        cls, seg: _native.Segment | AnonymousMemory, record: str, container: Container
    ) -> SegmentView:
        dt = dtype_of(record)
        if isinstance(seg, AnonymousMemory):
            raw = seg.raw
        else:
            raw = np.frombuffer(memoryview(seg), dtype=np.uint8)
        header = raw[:HEADER_SIZE].view(HEADER_DTYPE)
        capacity = int(header[0]["capacity"])
        body = raw[HEADER_SIZE : HEADER_SIZE + capacity * dt.itemsize]
        return cls(
            segment=seg,
            record=record,
            container=container,
            raw=raw,
            header=header,
            slots=body.view(dt),
            slot_bytes=body.reshape(capacity, dt.itemsize),
        )

    @property
    def name(self) -> str:
        return self.segment.name

    @property
    def address(self) -> int:
        """Address of the header (byte 0 of the mapping)."""
        return self.segment.address

    @property
    def capacity(self) -> int:
        return int(self.header[0]["capacity"])

    @property
    def record_size(self) -> int:
        return int(self.header[0]["record_size"])

    def hdr(self, field_name: str) -> int:
        """Current value of a scalar header field."""
        return int(self.header[0][field_name])

    def entry_address(self, i: int) -> int:
        """Address of slot/entry ``i``."""
        if not 0 <= i < self.capacity:
            raise IndexError(f"{self.name}: entry {i} out of range 0..{self.capacity}")
        return self.address + HEADER_SIZE + i * self.record_size


def anonymous(record: str, container: Container, capacity: int) -> SegmentView:
    """A ring or table of ``capacity`` ``record`` slots in process-private memory."""
    return SegmentView.wrap(AnonymousMemory(record, container, capacity), record, container)


def create_ring(
    name: str,
    record: str,
    capacity: int,
    *,
    instance: str = "",
    role: str = "",
    initial_index: int = 0,
    mlock: bool = False,
) -> SegmentView:
    """Create ring segment ``name`` of ``capacity`` (a power of two) ``record`` slots."""
    seg = _native.Segment.create(
        name, record, "ring", capacity, instance, role, initial_index, mlock
    )
    return SegmentView.wrap(seg, record, "ring")


def attach_ring(name: str, record: str, capacity: int | None = None) -> SegmentView:
    """Attach ring segment ``name``, validated against this build's ``record`` layout."""
    return SegmentView.wrap(_native.Segment.attach(name, record, "ring", capacity), record, "ring")


def create_table(
    name: str,
    record: str,
    capacity: int,
    *,
    instance: str = "",
    role: str = "",
    mlock: bool = False,
) -> SegmentView:
    """Create table segment ``name`` of ``capacity`` zeroed ``record`` entries."""
    seg = _native.Segment.create(name, record, "table", capacity, instance, role, 0, mlock)
    return SegmentView.wrap(seg, record, "table")


def attach_table(
    name: str, record: str, capacity: int | None = None, *, read_only: bool = False
) -> SegmentView:
    """Attach table segment ``name``, validated against this build's ``record`` layout. With
    ``read_only`` it is mapped from an ``O_RDONLY`` descriptor: its arrays are read-only, a
    write through its address faults, and it can never be made writable."""
    return SegmentView.wrap(
        _native.Segment.attach(name, record, "table", capacity, read_only), record, "table"
    )


class RingEnd:
    """One end of a ring, for numba: ``state`` (process-local int64 array) plus the views.

    The producer starts at the shared ``tail`` and the consumer at the shared ``head``, so a
    restarted or swapped-in process continues exactly where its predecessor stopped.
    """

    def __init__(
        self, view: SegmentView, role: Literal["producer", "consumer"], takeover: bool = False
    ) -> None:
        """Become ``role`` of the ring. Ring ends are exclusive: while another live process
        holds the end this raises ``SegmentError`` naming it, unless ``takeover`` (a strategy
        that has just taken the lease). The end is given back when this object goes."""
        if view.container != "ring":
            raise ValueError(f"{view.name} is a {view.container}, not a ring")
        self._claimed = False
        if isinstance(view.segment, _native.Segment):
            view.segment.claim_end(role, takeover)
            self._claimed = True
        self.view = view
        self.role = role
        self.slots = view.slots
        self.slot_bytes = view.slot_bytes
        st = ringops.new_state()
        st[ringops.ST_HDR] = view.address
        st[ringops.ST_SLOTS] = view.address + HEADER_SIZE
        st[ringops.ST_CAP] = view.capacity
        st[ringops.ST_RSIZE] = view.record_size
        tail = view.hdr("tail")
        head = view.hdr("head")
        if role == "producer":
            st[ringops.ST_OWN], st[ringops.ST_OTHER] = tail, head
        else:
            st[ringops.ST_OWN], st[ringops.ST_OTHER] = head, tail
        self.state = st
        self.heartbeat()

    def __del__(self) -> None:
        if getattr(self, "_claimed", False) and isinstance(self.view.segment, _native.Segment):
            self.view.segment.release_end(self.role)

    def heartbeat(self) -> None:
        """Refresh this end's heartbeat in the header."""
        key = "producer_heartbeat_ns" if self.role == "producer" else "consumer_heartbeat_ns"
        self.view.header[0][key] = _native.monotonic_ns()

    @property
    def index(self) -> int:
        """This end's next index (producer: tail, consumer: head)."""
        return int(self.state[ringops.ST_OWN])

    @property
    def mask(self) -> int:
        return self.view.capacity - 1

    # Convenience methods for non-hot Python code; hot loops call ringops from numba.

    def push(self, rec: np.void | np.ndarray[Any, Any]) -> bool:
        """Push one record (a value of the ring's dtype); False if the ring is full."""
        self._require("producer")
        row = np.asarray(rec, dtype=self.view.slots.dtype).reshape(1).view(np.uint8)
        return bool(ringops.try_push_bytes(self.state, self.slot_bytes, row))

    def pop(self) -> np.void | None:
        """Pop one record as a copy, or None if the ring is empty."""
        self._require("consumer")
        out = np.zeros(1, dtype=self.view.slots.dtype)
        if ringops.try_pop_bytes(self.state, self.slot_bytes, out.view(np.uint8)):
            return out[0]  # type: ignore[no-any-return]
        return None

    def available(self) -> int:
        self._require("consumer")
        return int(ringops.available(self.state))

    def wait(self, timeout_s: float, strategy: int = ringops.WAIT_ADAPTIVE) -> int:
        """Wait for at least one record; returns how many are readable (0 on timeout)."""
        self._require("consumer")
        return int(
            ringops.wait_available(
                self.state,
                strategy,
                ringops.ADAPTIVE_SPIN_ITERS,
                ringops.ADAPTIVE_YIELD_ITERS,
                ringops.ADAPTIVE_SLEEP_NS,
                int(timeout_s * 1e9),
            )
        )

    def _require(self, role: str) -> None:
        if self.role != role:
            raise TypeError(f"{self.view.name}: this RingEnd is the {self.role}, not the {role}")


class TableView:
    """Seqlock-consistent reads and single-writer writes of a table's entries."""

    def __init__(self, view: SegmentView) -> None:
        if view.container != "table":
            raise ValueError(f"{view.name} is a {view.container}, not a table")
        self.view = view
        self.entries = view.slots
        self._words = view.record_size // 8

    def read(self, i: int, max_retries: int = 1 << 20) -> np.void:
        """A consistent copy of entry ``i``; raises if the writer died mid-write."""
        out = np.zeros(1, dtype=self.view.slots.dtype)
        if not ringops.table_read_words(
            self.view.entry_address(i), out.view(np.int64), max_retries
        ):
            raise TimeoutError(
                f"{self.view.name}: entry {i} stayed mid-write for {max_retries} retries "
                "(did the writer die?)"
            )
        return out[0]  # type: ignore[no-any-return]

    def write(self, i: int, rec: np.void | np.ndarray[Any, Any]) -> None:
        """Replace entry ``i`` (single writer only); its seqlock word is managed here."""
        words = np.asarray(rec, dtype=self.view.slots.dtype).reshape(1).view(np.int64)
        ringops.table_write_words(self.view.entry_address(i), words)
