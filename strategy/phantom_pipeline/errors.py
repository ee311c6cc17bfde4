"""Exceptions raised across the Rust/Python seam.

They are defined in the Rust extension (so Rust errors map onto them one to one) and
re-exported here. Every message names the segment, and a ``SchemaMismatchError`` also carries
``segment``, ``field``, ``found`` and ``expected`` attributes.
"""

from phantom_pipeline._native import (
    SchemaMismatchError,
    SegmentError,
    SegmentExistsError,
    SegmentLiveError,
    SegmentNotFoundError,
    SegmentTruncatedError,
)

__all__ = [
    "SchemaMismatchError",
    "SegmentError",
    "SegmentExistsError",
    "SegmentLiveError",
    "SegmentNotFoundError",
    "SegmentTruncatedError",
]
