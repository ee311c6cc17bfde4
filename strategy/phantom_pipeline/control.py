"""The control block seen from Python: atomic field access for the control plane.

The ``control`` segment is a table of one ``ControlBlock``. Fields shared between processes
are read and written here with acquire loads and release stores (numba intrinsics called
from Python: slower than a plain numpy access but ordered on every CPU), which is what the
lease protocol of a swap (``phantom_pipeline.runtime``) relies on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from phantom_pipeline import atomics
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


class Control:
    """Typed, ordered access to the single ``ControlBlock`` entry of a control segment."""

    def __init__(self, view: SegmentView) -> None:
        if view.record != "ControlBlock":
            raise ValueError(f"{view.name} holds {view.record}, not ControlBlock")
        self.view = view
        self.entry = view.slots[0]
        self._base = view.entry_address(0)
        self._dtype = view.slots.dtype

    @classmethod
    def create(cls, name: str, **kw: Any) -> Control:
        return cls(create_table(name, "ControlBlock", 1, **kw))

    @classmethod
    def attach(cls, name: str) -> Control:
        return cls(attach_table(name, "ControlBlock", 1))

    def _field(self, name: str) -> tuple[int, int]:
        try:
            fdt, off = self._dtype.fields[name][:2]
        except KeyError:
            raise KeyError(f"ControlBlock has no field {name!r}") from None
        if fdt.shape:
            raise TypeError(f"ControlBlock.{name} is an array; index it through .entry")
        return self._base + off, fdt.itemsize

    def load(self, name: str) -> int:
        """Acquire load of a scalar field."""
        addr, size = self._field(name)
        return int(_load64(addr) if size == 8 else _load32(addr))

    def store(self, name: str, value: int) -> None:
        """Release store of a scalar field."""
        addr, size = self._field(name)
        if size == 8:
            _store64(addr, value)
        else:
            _store32(addr, value)

    def cas(self, name: str, expected: int, new: int) -> bool:
        """Compare-exchange of a 32-bit field; True if it held ``expected`` and now ``new``."""
        addr, size = self._field(name)
        if size != 4:
            raise TypeError(f"ControlBlock.{name}: cas is for 32-bit fields")
        return int(_cas32(addr, expected, new)) == expected

    def add(self, name: str, value: int) -> int:
        """Atomic add to a 64-bit counter; returns the previous value."""
        addr, size = self._field(name)
        if size != 8:
            raise TypeError(f"ControlBlock.{name}: add is for 64-bit counters")
        return int(_add64(addr, value))

    def get_str(self, name: str) -> str:
        raw = bytes(np.asarray(self.entry[name]).tobytes())
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    def set_str(self, name: str, value: str) -> None:
        field = self.entry[name]
        data = value.encode()
        if len(data) >= field.shape[0]:
            raise ValueError(
                f"ControlBlock.{name}: {value!r} is longer than {field.shape[0] - 1} bytes"
            )
        buf = np.zeros(field.shape[0], dtype=np.uint8)
        buf[: len(data)] = np.frombuffer(data, dtype=np.uint8)
        self.entry[name] = buf
