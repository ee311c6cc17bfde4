"""The suites behind ``phantom-pipeline bench``: each runs, prints a human report (rich) or
JSON, and returns its report. Every report names its suite (``"suite"``) so a reader, and the
tests, can tell which one produced it.

* ``e2e``: the end-to-end benchmark (:mod:`phantom_bench.e2e.harness`);
* ``ring``: rings against a Rust floor and multiprocessing (:mod:`phantom_bench.ring`);
* ``signer``: the signing hot path against a bare sign, PyNaCl and solders
  (:mod:`phantom_bench.signer`);
* ``feeder``: notifications decoded and published per second (:mod:`phantom_bench.feeder`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from phantom_pipeline.errors import SegmentError

SUITES = ("e2e", "ring", "signer", "feeder")


class SuiteError(RuntimeError):
    """A suite could not run (bad option, a tool failed); the message says why."""


def run(suite: str, *, as_json: bool, full: bool, systems: str | None, rates: str | None,
        duration: float | None, cpus: str | None, results: Path, console: Console,
        err_console: Console) -> dict[str, Any]:  # fmt: skip
    """Run ``suite`` and print its report; raises :class:`SuiteError` on failure."""

    def progress(msg: str) -> None:
        err_console.print(f"[dim]… {msg}[/dim]")

    if suite not in SUITES:
        raise SuiteError(f"unknown suite {suite!r} (known: {', '.join(SUITES)})")
    if suite == "e2e":
        return _e2e(as_json, full, systems, rates, duration, cpus, results, progress, console)
    try:
        if suite == "feeder":
            from phantom_bench import feeder

            report = {"suite": "feeder", **feeder.run(full=full)}
        elif suite == "signer":
            from phantom_bench import signer

            report = {"suite": "signer", **signer.run(samples=200_000 if full else 20_000)}
        else:
            from phantom_bench import ring

            report = {"suite": "ring", **ring.run(full=full, progress=progress)}
    except (RuntimeError, OSError, SegmentError) as e:
        raise SuiteError(f"benchmark failed: {e}") from e
    if as_json:
        print(json.dumps(report, indent=2))
    elif suite == "ring":
        _print_ring(report, console)
    elif suite == "signer":
        _print_signer(report, console)
    else:
        print(json.dumps(report, indent=2))
    return report


def _print_ring(report: dict[str, Any], console: Console) -> None:
    m = report["machine"]
    console.print(f"[bold]ring benchmark[/bold] on {m['cpu']} ({m['cores']} cores, unpinned)")
    lat = Table(title="one-way latency (paced ping-pong), ns")
    for col in ("path", "p50", "p99", "p99.9", "max", "p50 / Rust floor"):
        lat.add_column(col, justify="right")
    floor = report["latency_one_way_ns"]["rust_to_rust"]["p50_ns"]
    for path, v in report["latency_one_way_ns"].items():
        lat.add_row(path, str(v["p50_ns"]), str(v["p99_ns"]), str(v["p999_ns"]),
                    str(v["max_ns"]), f"{v['p50_ns'] / floor:.2f}x")  # fmt: skip
    console.print(lat)
    tp = Table(title="throughput, 64-byte records/s")
    tp.add_column("path")
    tp.add_column("records/s", justify="right")
    for path, v in report["throughput_records_per_s"].items():
        tp.add_row(path, f"{v / 1e6:,.2f} M")
    console.print(tp)
    _print_targets(report["targets"], console)


def _print_signer(report: dict[str, Any], console: Console) -> None:
    t = Table(title="signer hot path, ns (ratio: p50 / bare RFC 8032 sign's)")
    for col in ("path", "samples", "p50", "p99", "max", "ratio"):
        t.add_column(col, justify="right")
    bare = report["rust"]["bare_sign"]["p50_ns"]
    rows = {**report["rust"], **report["python"]}
    for path, v in rows.items():
        if not isinstance(v, dict):
            continue
        if "skipped" in v:
            t.add_row(path, "-", "-", "-", "-", f"skipped: {v['skipped']}")
            continue
        t.add_row(path, str(v["samples"]), str(v["p50_ns"]), str(v["p99_ns"]),
                  str(v["max_ns"]), f"{v['p50_ns'] / bare:.2f}x")  # fmt: skip
    console.print(t)
    _print_targets(report["targets"], console)


def _print_targets(targets: dict[str, bool | None], console: Console) -> None:
    for target, met in targets.items():
        mark = (
            "[dim]n/a[/dim]"
            if met is None
            else ("[green]met[/green]" if met else "[yellow]not met[/yellow]")
        )
        console.print(f"{mark}  {target}")


def _e2e(as_json: bool, full: bool, systems: str | None, rates: str | None,
         duration: float | None, cpus: str | None, results: Path,
         progress: Callable[[str], None], console: Console) -> dict[str, Any]:  # fmt: skip
    from phantom_bench.e2e import harness
    from phantom_pipeline import config as cfgmod

    names = tuple(s.strip() for s in systems.split(",")) if systems else harness.SYSTEMS
    unknown = [n for n in names if n not in harness.SYSTEMS]
    if unknown:
        raise SuiteError(
            f"--systems: unknown {', '.join(unknown)} (known: {', '.join(harness.SYSTEMS)})"
        )
    try:
        rate_list = (tuple(int(float(r)) for r in rates.split(",")) if rates
                     else harness.RATES_DEFAULT)  # fmt: skip
        cpu_list = cfgmod.parse_cpus(cpus)
    except (ValueError, cfgmod.ConfigError) as e:
        raise SuiteError(f"bad option: {e}") from e
    try:
        report = harness.run(full=full, systems=names, rates=rate_list, duration_s=duration,
                             progress=progress, cpus=cpu_list)  # fmt: skip
    except (harness.BenchError, OSError, SegmentError) as e:
        raise SuiteError(f"benchmark failed: {e}") from e
    report = {"suite": "e2e", **report}
    results.mkdir(parents=True, exist_ok=True)
    (results / "e2e.json").write_text(json.dumps(report, indent=2) + "\n")
    try:
        plots = harness.plot(report, results)
    except ImportError as e:
        plots = []
        progress(f"no plots: {e.name} is not installed")
    if as_json:
        print(json.dumps(report, indent=2))
        return report
    m = report["machine"]
    console.print(
        f"[bold]end-to-end benchmark[/bold] on {m['cpu']} ({m['cores']} cores, "
        f"{'pinned' if m['pinned'] else 'unpinned'}), {report['duration_s']} s per run"
    )
    t = Table(title="frame sent → transaction signed, µs (ratio: p50 / phantom-adaptive's)")
    for col in ("system", "offered/s", "achieved/s", "lost", "signed", "p50", "p99", "p99.9",
                "max", "ratio", "CPU µs/update", "CPU µs/signed"):  # fmt: skip
        t.add_column(col, justify="right")
    base = report["systems"].get("phantom-adaptive", {}).get("rates", {})
    skipped = []
    for name, s in report["systems"].items():
        if "skipped" in s:
            skipped.append(f"{name}: skipped ({s['skipped']})")
            continue
        for rate, r in s["rates"].items():
            if "error" in r:
                skipped.append(f"{name} at {int(rate):,}/s failed: {r['error']}")
                continue
            lat = r["sent_to_signed_ns"]
            b = base.get(rate, {}).get("sent_to_signed_ns", {}).get("p50")

            def us(k: str, lat: dict[str, int] = lat) -> str:
                return f"{lat[k] / 1e3:,.0f}" if k in lat else "-"

            t.add_row(name, f"{int(rate):,}", f"{r['achieved']:,}", f"{r['lost']:,}",
                      str(r.get("signed", "")), us("p50"), us("p99"), us("p999"), us("max"),
                      f"{lat['p50'] / b:.2f}" if b and "p50" in lat else "-",
                      str(r.get("cpu_us_per_update", "-")),
                      str(r.get("cpu_us_per_signed", "-")))  # fmt: skip
    console.print(t)
    for line in skipped:
        console.print(line)
    idle = report.get("idle", {})
    if "cpu_pct" in idle:
        console.print(f"idle CPU, quiet market, {idle['seconds']} s: " + ", ".join(
            f"{k} {v} %" for k, v in idle["cpu_pct"].items()))  # fmt: skip
    _print_targets(report["targets"], console)
    console.print(
        f"report: {results / 'e2e.json'}; plots: {', '.join(str(p) for p in plots) or 'none'}"
    )
    return report
