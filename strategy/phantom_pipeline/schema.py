"""numpy dtypes of the records, built at import from the Rust field tables.

Rust is the single source of the layout (``ringbuf/src/records.rs``): the extension exports
each record's fields (name, numpy type code, count, offset) and size, and this module turns
them into aligned numpy structured dtypes. No dtype is written by hand. At import the layout
hash is recomputed from the dtype as numpy sees it and compared with the hash Rust computed,
so a disagreement between the two sides cannot go unnoticed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from phantom_pipeline import _native

RECORD_NAMES: tuple[str, ...] = (
    "MarketUpdate",
    "PoolState",
    "OrderIntent",
    "ExecReport",
    "SupervisorBlock",
    "FeederBlock",
    "SignerBlock",
    "StrategyBlock",
    "ProbeRecord",
)

_SCHEMA: dict[str, dict[str, Any]] = _native.schema()


def _build_dtype(name: str) -> np.dtype[np.void]:
    spec = _SCHEMA[name]
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    for fname, code, count, offset, _elem_size, _doc in spec["fields"]:
        names.append(fname)
        formats.append(np.dtype(code) if count == 1 else (np.dtype(code), (count,)))
        offsets.append(offset)
    return np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": spec["size"]},
        align=False,
    )


def _dtype_fields(dt: np.dtype[np.void]) -> list[tuple[str, str, int, int]]:
    """(name, type code, count, offset) of every field, as numpy sees the dtype."""
    out = []
    assert dt.names is not None
    for fname in dt.names:
        fdt, offset = dt.fields[fname][:2]  # type: ignore[index]
        base = fdt.base
        count = int(np.prod(fdt.shape)) if fdt.shape else 1
        out.append((fname, base.str, count, int(offset)))
    return out


def _check(name: str, dt: np.dtype[np.void]) -> None:
    spec = _SCHEMA[name]
    ours = _native.layout_hash(_dtype_fields(dt), dt.itemsize)
    if ours != spec["layout_hash"]:
        raise ImportError(
            f"phantom_pipeline: numpy dtype of {name} does not reproduce the Rust layout "
            f"(layout_hash {ours:#018x} != {spec['layout_hash']:#018x}); the extension and "
            f"the Python package are out of step: reinstall the package"
        )


DTYPES: dict[str, np.dtype[np.void]] = {}
for _name in ("SegmentHeader", *RECORD_NAMES):
    DTYPES[_name] = _build_dtype(_name)
    _check(_name, DTYPES[_name])

HEADER_DTYPE = DTYPES["SegmentHeader"]
MARKET_UPDATE = DTYPES["MarketUpdate"]
POOL_STATE = DTYPES["PoolState"]
ORDER_INTENT = DTYPES["OrderIntent"]
EXEC_REPORT = DTYPES["ExecReport"]
PROBE_RECORD = DTYPES["ProbeRecord"]


def dtype_of(record: str) -> np.dtype[np.void]:
    """The numpy dtype of ``record`` (a name in ``RECORD_NAMES`` or ``SegmentHeader``)."""
    try:
        return DTYPES[record]
    except KeyError:
        raise ValueError(f"unknown record {record!r}; known: {', '.join(DTYPES)}") from None


def layout_hash(record: str) -> int:
    """The layout hash Rust computed for ``record``."""
    return int(_SCHEMA[record]["layout_hash"])


# --- the fill pattern shared with Rust (ringbuf/src/schema.rs), for round-trip tests ---

_MASK = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """splitmix64, identical to ``phantom_ringbuf::schema::splitmix64``."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def name_hash(name: str) -> int:
    """FNV-1a 64 of a field name (``phantom_ringbuf::schema::name_hash``)."""
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & _MASK
    return h


def pattern_values(dt: np.dtype[np.void], fname: str, seed: int) -> np.ndarray[Any, Any]:
    """The pattern value(s) of field ``fname`` for ``seed``, in the field's numpy type."""
    fdt = dt.fields[fname][0]  # type: ignore[index]
    count = int(np.prod(fdt.shape)) if fdt.shape else 1
    fseed = seed ^ name_hash(fname)
    words = [splitmix64(fseed ^ ((i * 0x100000001B3) & _MASK)) for i in range(count)]
    raw = np.array(words, dtype=np.uint64)
    # Truncate to the element width, keeping the low bytes (what an `as` cast does in Rust).
    return raw.view(np.uint8).reshape(count, 8)[:, : fdt.base.itemsize].copy().view(fdt.base)


def fill_pattern(rec: np.void | np.ndarray[Any, Any], seed: int) -> None:
    """Set every field of the record ``rec`` (a 0-d or 1-element view) to its pattern."""
    dt = rec.dtype
    assert dt.names is not None
    for fname in dt.names:
        vals = pattern_values(dt, fname, seed)
        rec[fname] = vals.reshape(np.shape(rec[fname]))


def pattern_mismatches(rec: np.void | np.ndarray[Any, Any], seed: int) -> list[str]:
    """Names of the fields of ``rec`` that differ from their pattern for ``seed``."""
    dt = rec.dtype
    assert dt.names is not None
    bad = []
    for fname in dt.names:
        vals = pattern_values(dt, fname, seed)
        if not np.array_equal(np.asarray(rec[fname]).reshape(-1), vals.reshape(-1)):
            bad.append(fname)
    return bad


def markdown() -> str:
    """The record tables of ``docs/records.md``, generated from the Rust schema (a test keeps
    the committed file equal to this output)."""
    lines = [
        "# Record layouts",
        "",
        "Generated from the Rust schema (`ringbuf/src/records.rs`) by",
        "`python -m phantom_pipeline.schema > docs/records.md`; `tests/test_docs.py` fails if",
        "this file and the code disagree. Offsets in bytes; little-endian; `_`-prefixed fields",
        "are padding or reserved.",
        "",
    ]
    for name in ("SegmentHeader", *RECORD_NAMES):
        spec = _SCHEMA[name]
        lines += [
            f"## {name}",
            "",
            f"size {spec['size']} bytes, layout_hash `{spec['layout_hash']:#018x}`",
            "",
            "| offset | field | numpy type | count | meaning |",
            "|---:|---|---|---:|---|",
        ]
        for fname, code, count, offset, _, doc in spec["fields"]:
            meaning = " ".join(doc.split()).replace("|", "\\|")
            lines.append(f"| {offset} | `{fname}` | `{code}` | {count} | {meaning} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(), end="")
