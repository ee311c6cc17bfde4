"""phantom-pipeline: a low-latency Solana arbitrage engine split at one seam.

Rust processes (feeder, signer) and numba-compiled Python strategies exchange fixed-layout
records through lock-free shared-memory rings. This package holds the Python side: the
numpy views of the rings (``phantom_pipeline.segments``), the numba ring operations
(``phantom_pipeline.ringops``), the schema (``phantom_pipeline.schema``) and the CLI.
"""

from phantom_pipeline._native import VERSION as __version__
from phantom_pipeline.errors import (
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
    "__version__",
]
