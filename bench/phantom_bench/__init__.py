"""phantom-bench: everything that measures phantom-pipeline, kept out of the product.

* :mod:`phantom_bench.e2e`: the end-to-end benchmark (``harness``) and the Python comparison
  systems (``pysystems`` and the modules they share);
* :mod:`phantom_bench.ring`, :mod:`phantom_bench.signer`, :mod:`phantom_bench.feeder`: the
  component suites of ``phantom-pipeline bench --suite``;
* :mod:`phantom_bench.probe`: the checksummed probe workload of the ring tests;
* :func:`tool`: the benchmark executables (``phantom-allrust``, ``phantom-ring``,
  ``phantom-feeder-bench``, ``phantom-signer-bench``), installed in ``phantom_bench/bin/``.

The product never imports this package; ``phantom-pipeline bench`` does, and says how to
install it when it is missing.
"""

from __future__ import annotations

from pathlib import Path

from phantom_pipeline.binaries import executable

BENCH_BIN = Path(__file__).resolve().parent / "bin"


def tool(name: str) -> Path:
    """Path of benchmark executable ``name``; a clear error if it is not installed."""
    return executable(name, BENCH_BIN)
