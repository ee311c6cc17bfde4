"""The control block seen from Python: atomic field access for the control plane.

The control block is split by writer into four one-entry tables (``docs/architecture.md``
§3): ``control`` (``SupervisorBlock``: the supervisor's, and the CLI's kill switch and
params), ``feeder`` (``FeederBlock``), ``signer`` (``SignerBlock``) and ``strategy``
(``StrategyBlock``: the lease and handover, the strategy's counters). A process attaches as
one writer: its own segment is mapped read-write, every other one read-only from an
``O_RDONLY`` descriptor, so writing another process's state is refused here with a clear
error and faults below, and can never be made possible later. Field names are unique across
the four records, so ``load``/``store`` take a field name and find its segment.

Fields are read and written with acquire loads and release stores (numba intrinsics called
from Python: slower than a plain numpy access but ordered on every CPU), which is what the
lease protocol of a swap (``phantom_pipeline.runtime``) relies on.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from numba import njit

from phantom_pipeline import _native, atomics
from phantom_pipeline.errors import SegmentError
from phantom_pipeline.segments import SegmentView, attach_table, create_table


@njit(cache=True)
def _load64(addr: int) -> int:
    return atomics.load_acquire_i64(addr)


@njit(cache=True)
def _store64(addr: int, v: int) -> None:
    atomics.store_release_i64(addr, v)


@njit(cache=True)
def _load32(addr: int) -> int:
    return atomics.load_acquire_u32(addr)


@njit(cache=True)
def _store32(addr: int, v: int) -> None:
    atomics.store_release_u32(addr, v)


@njit(cache=True)
def _cas32(addr: int, expected: int, new: int) -> int:
    return atomics.cas_u32(addr, expected, new)


@njit(cache=True)
def _add64(addr: int, v: int) -> int:
    return atomics.fetch_add_i64(addr, v)


#: (role, record) of the four control segments, in creation order; the role is also the
#: writer that maps it read-write.
CONTROL_SEGMENTS: tuple[tuple[str, str], ...] = (
    ("control", "SupervisorBlock"),
    ("feeder", "FeederBlock"),
    ("signer", "SignerBlock"),
    ("strategy", "StrategyBlock"),
)

#: Who attaches: ``"supervisor"`` (also the CLI), ``"feeder"``, ``"signer"``, ``"strategy"``,
#: ``"reader"`` (everything read-only), or ``"all"`` (everything writable: the creator, and
#: tests standing in for every process).
WRITERS = ("supervisor", "feeder", "signer", "strategy", "reader", "all")

_OWNER = {"control": "supervisor", "feeder": "feeder", "signer": "signer", "strategy": "strategy"}


class ReadOnlyFieldError(PermissionError):
    """A write to a control field this process maps read-only (another process's state)."""


class _Entries:
    """``control.entry[FIELD]``: the field's array (or scalar) in whichever segment holds it."""

    def __init__(self, control: Control) -> None:
        self._c = control

    def __getitem__(self, name: str) -> Any:
        return self._c._view_of(name).slots[0][name]

    def __setitem__(self, name: str, value: Any) -> None:
        self._c._view_of(name, write=True).slots[0][name] = value


class Control:
    """Typed, ordered access to an instance's four control tables (one entry each)."""

    def __init__(self, views: dict[str, SegmentView]) -> None:
        for role, record in CONTROL_SEGMENTS:
            if views[role].record != record:
                raise ValueError(f"{views[role].name} holds {views[role].record}, not {record}")
        self.views = views
        self._where: dict[str, tuple[SegmentView, int, np.dtype[Any]]] = {}
        for role, _record in CONTROL_SEGMENTS:
            view = views[role]
            base = view.entry_address(0)
            for fname, spec in view.slots.dtype.fields.items():
                self._where[fname] = (view, base + spec[1], spec[0])

    @property
    def entry(self) -> _Entries:
        """``entry[FIELD]``: a field's array or scalar, in whichever table holds it. Made on
        each use, not kept: a stored back-reference would make a cycle, and a cycle keeps
        the mappings (and their locks) until the garbage collector runs, so a stopped
        instance would look in use."""
        return _Entries(self)

    @classmethod
    def create(cls, instance: str, *, mlock: bool = False) -> Control:
        """Create the four control tables of ``instance``; on failure remove those made."""
        views: dict[str, SegmentView] = {}
        try:
            for role, record in CONTROL_SEGMENTS:
                views[role] = create_table(
                    _native.segment_name(instance, role), record, 1,
                    instance=instance, role=role, mlock=mlock,
                )  # fmt: skip
        except BaseException:
            for view in views.values():
                with contextlib.suppress(SegmentError):
                    _native.remove_segment(view.name)
            raise
        return cls(views)

    @classmethod
    def attach(cls, instance: str, writer: str = "all") -> Control:
        """Attach to ``instance``'s control tables as ``writer`` (one of :data:`WRITERS`)."""
        if writer not in WRITERS:
            raise ValueError(f"unknown control writer {writer!r}: expected one of {WRITERS}")
        return cls(
            {
                role: attach_table(
                    _native.segment_name(instance, role),
                    record,
                    1,
                    read_only=writer != "all" and _OWNER[role] != writer,
                )
                for role, record in CONTROL_SEGMENTS
            }
        )

    @property
    def segment_views(self) -> list[SegmentView]:
        return [self.views[role] for role, _r in CONTROL_SEGMENTS]

    def _view_of(self, name: str, write: bool = False) -> SegmentView:
        try:
            view = self._where[name][0]
        except KeyError:
            raise KeyError(f"the control block has no field {name!r}") from None
        if write and not view.segment.writable:
            raise ReadOnlyFieldError(
                f"{view.record}.{name} belongs to {view.name}, which this process maps "
                "read-only: each process writes only its own state"
            )
        return view

    def _field(self, name: str, write: bool = False) -> tuple[int, int]:
        view = self._view_of(name, write)
        _view, addr, fdt = self._where[name]
        if fdt.shape:
            raise TypeError(f"{view.record}.{name} is an array; index it through .entry")
        return addr, fdt.itemsize

    def load(self, name: str) -> int:
        """Acquire load of a scalar field."""
        addr, size = self._field(name)
        return int(_load64(addr) if size == 8 else _load32(addr))

    def store(self, name: str, value: int) -> None:
        """Release store of a scalar field of a segment this process maps writable."""
        addr, size = self._field(name, write=True)
        if size == 8:
            _store64(addr, value)
        else:
            _store32(addr, value)

    def cas(self, name: str, expected: int, new: int) -> bool:
        """Compare-exchange of a 32-bit field; True if it held ``expected`` and now ``new``."""
        addr, size = self._field(name, write=True)
        if size != 4:
            raise TypeError(f"{name}: cas is for 32-bit fields")
        return int(_cas32(addr, expected, new)) == expected

    def add(self, name: str, value: int) -> int:
        """Atomic add to a 64-bit counter; returns the previous value."""
        addr, size = self._field(name, write=True)
        if size != 8:
            raise TypeError(f"{name}: add is for 64-bit counters")
        return int(_add64(addr, value))

    def get_str(self, name: str) -> str:
        raw = bytes(np.asarray(self.entry[name]).tobytes())
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    def set_str(self, name: str, value: str) -> None:
        field = self.entry[name]
        data = value.encode()
        if len(data) >= field.shape[0]:
            raise ValueError(f"{name}: {value!r} is longer than {field.shape[0] - 1} bytes")
        buf = np.zeros(field.shape[0], dtype=np.uint8)
        buf[: len(data)] = np.frombuffer(data, dtype=np.uint8)
        self.entry[name] = buf
