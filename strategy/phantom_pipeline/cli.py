"""The ``phantom-pipeline`` command line (DESIGN §7).

Implemented so far: ``inspect``, ``clean`` and ``bench`` (the ring benchmark). ``start``,
``status``, ``swap``, ``params``, ``kill-switch``, ``stop``, ``record``/``replay`` and ``sim``
arrive with the feeder, signer and strategy runtime; they are not listed until they work.
Human output uses rich; ``--json`` output is stable. Exit codes are non-zero on failure.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from phantom_pipeline import _native
from phantom_pipeline.errors import SegmentError
from phantom_pipeline.schema import HEADER_DTYPE

ROLES = ("control", "pools", "market", "intents", "reports")
console = Console()
err_console = Console(stderr=True)


def segment_name(instance: str, role_or_name: str) -> str:
    """``market`` -> ``phantom-<instance>-market``; a full ``phantom-...`` name is kept."""
    if role_or_name.startswith("phantom-"):
        return role_or_name
    return f"phantom-{instance}-{role_or_name}"


def _fail(msg: str, code: int = 1) -> None:
    err_console.print(f"[red]error:[/red] {msg}")
    sys.exit(code)


def _cstr(raw: Any) -> str:
    return bytes(raw).split(b"\0", 1)[0].decode("utf-8", "replace")


def describe_segment(name: str) -> dict[str, Any]:
    """Header, validation verdict and counters of segment ``name`` (for ``inspect``)."""
    import numpy as np

    seg = _native.Segment.open_unchecked(name)
    raw = np.frombuffer(memoryview(seg), dtype=np.uint8)
    h = raw[: HEADER_DTYPE.itemsize].view(HEADER_DTYPE)[0]
    kind = int(h["record_kind"])
    container = {1: "ring", 2: "table"}.get(kind >> 16)
    record = _native.schema()
    record_name = next((n for n, s in record.items() if s["id"] == kind & 0xFFFF), None)
    validation = "ok"
    try:
        if container is None or record_name is None or record_name == "SegmentHeader":
            raise SegmentError(f"segment {name}: unknown record_kind {kind:#x}")
        seg.validate(record_name, container)
    except SegmentError as e:
        validation = str(e)
    live, why = seg.liveness()
    now = _native.monotonic_ns()

    def age_ms(field: str) -> float | None:
        t = int(h[field])
        return None if t == 0 else round((now - t) / 1e6, 1)

    out: dict[str, Any] = {
        "name": name,
        "size": seg.size,
        "magic": f"{int(h['magic']):#018x}",
        "abi_version": int(h["abi_version"]),
        "record_kind": _native.describe_record_kind(kind),
        "layout_hash": f"{int(h['layout_hash']):#018x}",
        "record_size": int(h["record_size"]),
        "capacity": int(h["capacity"]),
        "validation": validation,
        "instance": _cstr(h["instance"]),
        "role": _cstr(h["role"]),
        "creator_pid": int(h["creator_pid"]),
        "live": live,
        "liveness": why,
        "mlocked": bool(h["mlocked"]),
        "heartbeat_age_ms": {
            "creator": age_ms("creator_heartbeat_ns"),
            "producer": age_ms("producer_heartbeat_ns"),
            "consumer": age_ms("consumer_heartbeat_ns"),
        },
    }
    if container == "ring":
        tail, head = int(h["tail"]), int(h["head"])
        out.update(
            {
                "tail": tail,
                "head": head,
                "depth": tail - head,
                "overflows": int(h["overflows"]),
                "producer_pid": int(h["producer_pid"]),
                "consumer_pid": int(h["consumer_pid"]),
                "waiter": int(h["waiter"]),
            }
        )
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_native.VERSION, prog_name="phantom-pipeline")
def main() -> None:
    """phantom-pipeline: a low-latency Solana arbitrage engine (Rust feeder and signer,
    numba strategies, shared-memory rings)."""


@main.command()
@click.argument("segment")
@click.option("--instance", default="default", show_default=True, help="Instance name.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect(segment: str, instance: str, as_json: bool) -> None:
    """Dump and validate one segment's header and counters.

    SEGMENT is a role of the instance (control, pools, market, intents, reports) or a full
    segment name (phantom-INSTANCE-ROLE). Exits 1 if the segment fails validation.
    """
    name = segment_name(instance, segment)
    try:
        info = describe_segment(name)
    except SegmentError as e:
        _fail(str(e))
        return
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        t = Table(title=f"segment {name}", show_header=False)
        for k, v in info.items():
            t.add_row(k, str(v))
        console.print(t)
    if info["validation"] != "ok":
        sys.exit(1)


@main.command()
@click.option("--instance", default=None, help="Only this instance's segments (default: all).")
@click.option(
    "--stale-after-ms",
    default=_native.DEFAULT_STALE_AFTER_NS // 1_000_000,
    show_default=True,
    help="A heartbeat older than this no longer keeps a segment alive.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def clean(instance: str | None, stale_after_ms: int, as_json: bool) -> None:
    """Remove stale segments (creator gone, no fresh heartbeat); never a live one."""
    prefix = f"phantom-{instance}-" if instance else "phantom-"
    try:
        removed, kept = _native.clean_stale(prefix, stale_after_ms * 1_000_000)
    except SegmentError as e:
        _fail(str(e))
        return
    if as_json:
        click.echo(
            json.dumps({"removed": removed, "kept": [{"name": n, "why": w} for n, w in kept]})
        )
        return
    for n in removed:
        console.print(f"removed [bold]{n}[/bold]")
    for n, why in kept:
        console.print(f"kept {n}: {why}")
    if not removed and not kept:
        console.print(f"no segments matching {prefix}*")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--full", is_flag=True, help="Longer runs (about 10x the samples).")
def bench(as_json: bool, full: bool) -> None:
    """Benchmark the rings: one-way latency and throughput, Rust and numba ends, beside
    multiprocessing.Queue and Pipe, as ratios to the Rust floor measured in the same run.

    (The end-to-end pipeline benchmark of DESIGN §8 will extend this command.)
    """
    from phantom_pipeline import benchring

    def progress(msg: str) -> None:
        err_console.print(f"[dim]… {msg}[/dim]")

    try:
        report = benchring.run(full=full, progress=progress)
    except (RuntimeError, OSError, SegmentError) as e:
        _fail(f"benchmark failed: {e}")
        return
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    m = report["machine"]
    console.print(f"[bold]ring benchmark[/bold] on {m['cpu']} ({m['cores']} cores, unpinned)")
    lat = Table(title="one-way latency (paced ping-pong), ns")
    for col in ("path", "p50", "p99", "p99.9", "max", "p50 / Rust floor"):
        lat.add_column(col, justify="right")
    floor = report["latency_one_way_ns"]["rust_to_rust"]["p50_ns"]
    for path, v in report["latency_one_way_ns"].items():
        lat.add_row(
            path,
            str(v["p50_ns"]),
            str(v["p99_ns"]),
            str(v["p999_ns"]),
            str(v["max_ns"]),
            f"{v['p50_ns'] / floor:.2f}x",
        )
    console.print(lat)
    tp = Table(title="throughput, 64-byte records/s")
    tp.add_column("path")
    tp.add_column("records/s", justify="right")
    for path, v in report["throughput_records_per_s"].items():
        tp.add_row(path, f"{v / 1e6:,.2f} M")
    console.print(tp)
    for target, met in report["targets"].items():
        console.print(f"{'[green]met[/green]' if met else '[yellow]not met[/yellow]'}  {target}")


if __name__ == "__main__":
    main()
