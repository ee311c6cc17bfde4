"""The ``phantom-pipeline`` command line (DESIGN §7).

Commands: ``start`` (with the embedded default), ``status``, ``swap``, ``params``,
``kill-switch``, ``stop``, ``inspect``, ``clean``, ``record``, ``replay``, ``sim``, ``routes``
and ``bench``.
Human output uses rich; ``--json`` output is stable. Exit codes are non-zero on failure.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from phantom_pipeline import _native
from phantom_pipeline.errors import SegmentError
from phantom_pipeline.schema import HEADER_DTYPE

ROLES: tuple[str, ...] = tuple(_native.ROLES)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def segment_name(instance: str, role_or_name: str) -> str:
    """``market`` -> ``phantom-<instance>-market``; a full ``phantom-...`` name is kept."""
    if role_or_name.startswith(_native.SEGMENT_PREFIX):
        return role_or_name
    return _native.segment_name(instance, role_or_name)


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
    from phantom_pipeline.status import heartbeat_age_ms

    live, why = seg.liveness()

    def age_ms(field: str) -> float | None:
        t = int(h[field])
        return heartbeat_age_ms(t, _native.monotonic_ns())

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
                "index_errors": int(h["index_errors"]),
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

    SEGMENT is a role of the instance (control, feeder, signer, strategy, pools, market,
    intents, reports) or a full
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
    try:
        removed, kept = _native.clean_instance(instance, stale_after_ms * 1_000_000)
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
        console.print(f"no segments of {f'instance {instance!r}' if instance else 'any instance'}")


@main.command()
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Instance config (TOML). Without it: the embedded default (simulator, two-pool "
    "arbitrage, dry-run signer with a throwaway key).",
)  # fmt: skip
@click.option("--instance", default="default", show_default=True, help="Instance name.")
@click.option("--cpus", default=None, help="CPUs to pin the processes to, e.g. 2-4 or 2,3,5.")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--detach", is_flag=True, help="Run in the background; return once it is up.")
@click.option("--live", is_flag=True, help="Allow live sending (the config must say so too).")
def start(
    config_path: Path | None,
    instance: str,
    cpus: str | None,
    duration: float | None,
    detach: bool,
    live: bool,
) -> None:
    """Validate the config, create the segments, start feeder, signer and strategy (and, for
    the embedded default, the market simulator), and show live status until Ctrl-C,
    `phantom-pipeline stop` or --duration."""
    from phantom_pipeline import config as cfgmod
    from phantom_pipeline.instance import InstanceError, validate_instance_name
    from phantom_pipeline.supervisor import Supervisor, SupervisorError, run_dir

    if detach:
        _start_detached(config_path, instance, cpus, duration, live)
        return
    sim_proc = None
    try:
        validate_instance_name(instance)
        cpu_list = cfgmod.usable_cpus(cfgmod.parse_cpus(cpus))
        if config_path is None:
            config_path, sim_proc = _embedded_default(run_dir(instance))
        cfg = cfgmod.load(config_path)
        cfgmod.check_spinners(cfg, cpu_list)
        placed = cpu_list if cpus else cfgmod.auto_cpus(cfg, cpu_list)
        sup = Supervisor(cfg, instance, placed, live)
        sup.start()
    except (cfgmod.ConfigError, InstanceError, SupervisorError, SegmentError, OSError) as e:
        if sim_proc is not None:
            sim_proc.kill()
        _fail(str(e))
        return
    err_console.print(
        f"[green]instance {instance} started[/green]: feeder {sup.children['feeder'].pid}, "
        f"signer {sup.children['signer'].pid}, strategy {sup.children['strategy'].pid}"
        + (f", simulator {sim_proc.pid}" if sim_proc else "")
        + (f"; pinned to CPU {','.join(map(str, placed))}" if placed else "")
        + (" (placement auto: few cores, one shared core)" if placed and not cpus else "")
        + f"; logs in {sup.dir}"
    )
    if cfg.strategy.sandbox == "off":
        err_console.print("[yellow]warning:[/yellow] the strategy runs UNSANDBOXED "
                          '([strategy] sandbox = "off")')  # fmt: skip
    last = [0.0]

    def show() -> None:
        now = time.monotonic()
        if now - last[0] < 1.0:
            return
        last[0] = now
        try:
            from phantom_pipeline.status import collect

            st = collect(instance, window=4096, cpu_window_s=0)
        except Exception:  # the instance is shutting down
            return
        lat = st["latency_ns"]
        s = st["strategy"]
        console.print(
            f"ticks {st['rings']['market']['published']:>8}  intents {s['intents']:>6}  "
            f"signed {st['signer']['signed']:>6}  "
            f"rejected {sum(st['signer']['rejected'].values()):>5}"
            f"  | p50 µs: recv→pub {lat['recv_to_pub']['p50'] / 1e3:.1f}  "
            f"pub→strategy {lat['pub_to_strategy']['p50'] / 1e3:.1f}  "
            f"strategy→intent {lat['strategy_to_intent']['p50'] / 1e3:.1f}  "
            f"intent→signer {lat['intent_to_signer']['p50'] / 1e3:.1f}  "
            f"signer→signed {lat['signer_to_signed']['p50'] / 1e3:.1f}  "
            f"tick→signed {lat['tick_to_signed']['p50'] / 1e3:.1f}"
        )  # fmt: skip

    try:
        sup.run(duration, on_tick=show)
    finally:
        if sim_proc is not None:
            sim_proc.kill()
            sim_proc.wait(timeout=30)
    console.print(f"instance {instance} stopped")


def _embedded_default(directory: Path) -> tuple[Path, Any]:
    """Start the simulator, make the throwaway key, write the embedded default config."""
    import subprocess

    from phantom_pipeline.binaries import executable
    from phantom_pipeline.embedded import default_config
    from phantom_pipeline.supervisor import open_private, spawn, write_private

    # Forked by the spawner thread and told the supervisor's pid (this process): the
    # simulator dies with it, like every other child.
    logfd = open_private(directory / "sim.log")
    try:
        sim = spawn(
            [str(executable("phantom-sim")), "--port", "0", "--rate", "2000",
             "--dislocation-probability", "0.05", "--dislocation", "0.02",
             "--supervisor-pid", str(os.getpid())],
            stdout=subprocess.PIPE, stderr=logfd, text=True, start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(logfd)
    assert sim.stdout is not None
    line = sim.stdout.readline()
    if not line:
        raise OSError(f"the simulator did not start: see {directory / 'sim.log'}")
    ready = json.loads(line)
    key = directory / "dry-run-key.json"
    if not key.exists():
        r = subprocess.run(
            [str(executable("phantom-signer")), "--generate-keypair", str(key)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if r.returncode != 0:
            sim.kill()
            raise OSError(f"cannot make the throwaway key: {r.stderr.strip()}")
    path = directory / "embedded-default.toml"
    write_private(path, default_config(ready, directory, key))
    return path, sim


def _start_detached(
    config_path: Path | None, instance: str, cpus: str | None, duration: float | None, live: bool
) -> None:
    import subprocess

    from phantom_pipeline.supervisor import open_private, run_dir

    argv = [sys.executable, "-m", "phantom_pipeline.cli", "start", "--instance", instance]
    if config_path is not None:
        argv += ["--config", str(config_path.resolve())]
    if cpus:
        argv += ["--cpus", cpus]
    if duration is not None:
        argv += ["--duration", str(duration)]
    if live:
        argv.append("--live")
    log = run_dir(instance) / "supervisor.log"
    logfd = open_private(log)
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logfd,
                             stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    finally:
        os.close(logfd)
    from phantom_pipeline.supervisor import SupervisorError, request

    # Asked over the control socket, not by mapping the segments: a mapping would hold
    # their locks, and a previous supervisor's segments must be left free to be cleaned.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if p.poll() is not None:
            try:
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            except OSError:
                tail = []
            _fail(
                f"the instance did not start (exit {p.returncode}); see {log}"
                + "".join(f"\n  {line}" for line in tail)
            )
        try:
            procs = request(instance, {"cmd": "processes"}, timeout=5)["processes"]
            if procs["supervisor"]["pid"] == p.pid and procs.get("strategy", {}).get("pid"):
                console.print(f"instance {instance} running in the background (supervisor "
                              f"{p.pid}); log {log}")  # fmt: skip
                return
        except (SupervisorError, OSError, ValueError):
            pass
        time.sleep(0.1)
    _fail(f"the instance did not come up within 120 s; see {log}")


@main.command()
@click.option("--instance", default="default", show_default=True, help="Instance name.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--cpu-window",
    type=click.FloatRange(0.05, 60),
    default=0.5,
    show_default=True,
    help="Seconds over which each process's CPU use is sampled.",
)
def status(instance: str, as_json: bool, cpu_window: float) -> None:
    """Processes (with CPU % and CPU µs per update), heartbeats, ring depth and overflows,
    strategy lease, signer and feeder counters, per-hop latency percentiles of a running
    instance."""
    from phantom_pipeline.instance import InstanceError
    from phantom_pipeline.status import collect

    try:
        st = collect(instance, cpu_window_s=cpu_window)
    except (InstanceError, SegmentError) as e:
        _fail(str(e))
        return
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    render_status(st)


def render_status(st: dict[str, Any]) -> None:
    console.print(f"[bold]instance {st['instance']}[/bold]  strategy {st['strategy']['name']} "
                  f"(epoch {st['strategy']['epoch']})")  # fmt: skip
    if st["halted"]:
        console.print(f"[red]HALTED[/red] since {time.ctime(st['halted']['since'])}: "
                      f"{st['halted']['reason']} (kill switch on)")  # fmt: skip
    if st["strategy"]["sandbox"] == "off":
        console.print("[yellow]warning:[/yellow] the strategy runs UNSANDBOXED "
                      '([strategy] sandbox = "off")')  # fmt: skip
    procs = Table(title="processes")
    for col in ("process", "pid", "alive", "restarts", "heartbeat ms", "CPU %",
                "CPU µs/update"):  # fmt: skip
        procs.add_column(col)
    cpu = st.get("cpu") or {}
    for name, p in st["processes"].items():
        use = cpu.get(name, {})
        procs.add_row(name, str(p["pid"]), "yes" if p["alive"] else "[red]no[/red]",
                      str(p["restarts"]), str(p["heartbeat_age_ms"]),
                      str(use.get("cpu_pct", "-")), str(use.get("us_per_update", "-")))  # fmt: skip
    console.print(procs)
    rings = Table(title="rings")
    for col in ("ring", "published", "consumed", "depth", "overflows"):
        rings.add_column(col, justify="right")
    for name, r in st["rings"].items():
        rings.add_row(name, str(r["published"]), str(r["consumed"]), str(r["depth"]),
                      str(r["overflows"]))  # fmt: skip
    console.print(rings)
    feeds = Table(title="feeder endpoints")
    for col in ("ws", "rpc", "connected", "first arrivals", "lag ms"):
        feeds.add_column(col)
    for e in st["feeder"]["endpoints"]:
        feeds.add_row(e["ws"], e["rpc"], "yes" if e["connected"] else "[red]no[/red]",
                      str(e["wins"]), f"{e['lag_ns'] / 1e6:.2f}")  # fmt: skip
    console.print(feeds)
    console.print("pools: " + "; ".join(f"{p['name'] or p['address']} ({p['kind']}, "
                                        f"{len(p['accounts'])} accounts)"
                                        for p in st["feeder"]["pools"]))  # fmt: skip
    lat = Table(title="latency per hop (ns)")
    for col in ("hop", "count", "p50", "p99", "p99.9", "max"):
        lat.add_column(col, justify="right")
    for hop, h in st["latency_ns"].items():
        lat.add_row(hop, str(h["count"]), str(h["p50"]), str(h["p99"]), str(h["p999"]),
                    str(h["max"]))  # fmt: skip
    console.print(lat)
    s = st["strategy"]
    console.print(f"ticks {s['ticks_processed']}, skipped {s['ticks_skipped']}, intents "
                  f"{s['intents']} (dropped {s['intents_dropped']}); signer signed "
                  f"{st['signer']['signed']}, kill switch "
                  f"{'ON' if st['signer']['kill_switch'] else 'off'}")  # fmt: skip


@main.command("kill-switch")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option("--instance", default="default", show_default=True, help="Instance name.")
def kill_switch(state: str, instance: str) -> None:
    """Stop (on) or resume (off) all signing at once. The state is recorded in the
    instance's run directory first, so it survives a restart of the instance."""
    from phantom_pipeline.instance import InstanceError, InstanceSegments, validate_instance_name
    from phantom_pipeline.supervisor import run_dir, write_kill_switch_state

    try:
        validate_instance_name(instance)
        directory = run_dir(instance)
        write_kill_switch_state(directory, state == "on")
    except (InstanceError, OSError) as e:
        _fail(f"kill switch not changed: {e}")
        return
    try:
        seg = InstanceSegments.attach(instance)
    except (InstanceError, SegmentError) as e:
        _fail(f"{e} (the kill switch is recorded {state.upper()} in {directory} and "
              "applies when the instance starts)")  # fmt: skip
        return
    seg.control.store("kill_switch", 1 if state == "on" else 0)
    console.print(f"kill switch {state.upper()} for instance {instance}")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--instance", default="default", show_default=True, help="Instance name.")
@click.option("--timeout-s", default=30.0, show_default=True, help="How long to wait.")
def params(file: Path, instance: str, timeout_s: float) -> None:
    """Reload the running strategy's params from FILE (a TOML [params] table). The file is
    copied into the strategy's params directory; the strategy checks it against its Params
    inside its sandbox and applies it between batches, or refuses it (its reason is shown)."""
    from phantom_pipeline.instance import InstanceError, InstanceSegments
    from phantom_pipeline.supervisor import run_dir

    try:
        data = file.read_bytes()
        tomllib.loads(data.decode())
        seg = InstanceSegments.attach(instance)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        _fail(f"params file {file}: {e}")
        return
    except (InstanceError, SegmentError) as e:
        _fail(str(e))
        return
    c = seg.control
    if not c.get_str("strategy_name"):
        _fail(f"instance {instance!r} has no strategy holding the lease")
    gen = c.load("params_generation") + 1
    directory = run_dir(instance) / "strategy"
    directory.mkdir(mode=0o700, exist_ok=True)
    dest = directory / f"params-gen{gen}-{time.time_ns()}.toml"
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    c.set_str("params_path", str(dest))
    c.store("params_generation", gen)
    deadline = time.monotonic() + timeout_s
    while c.load("strategy_params_version") < gen:
        if c.load("strategy_params_refused") == gen:
            lines = _log_tail(run_dir(instance) / "strategy.log")
            why = [ln.split("refused", 1)[1].strip(" ,:") for ln in lines if "refused" in ln]
            _fail(f"the strategy refused params generation {gen} from {file}"
                  + (f": {why[-1]}" if why else ""))  # fmt: skip
        if time.monotonic() > deadline:
            _fail(f"the strategy did not apply params generation {gen} within {timeout_s} s")
        time.sleep(0.01)
    console.print(f"params generation {gen} applied from {file}")


def _log_tail(path: Path, n: int = 50) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return []


@main.command()
@click.argument("strategy")
@click.option("--instance", default="default", show_default=True, help="Instance name.")
@click.option(
    "--params", "params_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="TOML file with the new strategy's [params].",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def swap(strategy: str, instance: str, params_file: Path | None, as_json: bool) -> None:
    """Hot-swap the strategy to STRATEGY (MODULE:CLASS) while feeder and signer keep
    running; prints the handover gap, the ticks skipped (0) and the new epoch."""
    from phantom_pipeline.supervisor import SupervisorError, request

    req: dict[str, Any] = {"cmd": "swap", "strategy": strategy}
    if params_file is not None:
        req["params"] = str(params_file.resolve())
    try:
        r = request(instance, req, timeout=600)
    except SupervisorError as e:
        _fail(str(e))
        return
    out = {k: r[k] for k in ("old_epoch", "new_epoch", "gap_ns", "ticks_skipped", "strategy")}
    if as_json:
        click.echo(json.dumps(out))
        return
    console.print(
        f"swapped to {strategy}: epoch {out['old_epoch']} -> {out['new_epoch']}, handover gap "
        f"{out['gap_ns'] / 1e6:.3f} ms, ticks skipped {out['ticks_skipped']}"
        + (" (old strategy killed: it did not step down)" if r.get("old_killed") else "")
    )


@main.command()
@click.option("--instance", default="default", show_default=True, help="Instance name.")
@click.option("--timeout-s", default=60.0, show_default=True, help="How long to wait.")
def stop(instance: str, timeout_s: float) -> None:
    """Graceful stop: processes finish (the signer drains accepted intents), segments are
    removed."""
    from phantom_pipeline.supervisor import SupervisorError, request

    try:
        request(instance, {"cmd": "stop"}, timeout=30)
    except SupervisorError as e:
        _fail(str(e))
        return
    deadline = time.monotonic() + timeout_s
    while _native.instance_segments(instance):
        if time.monotonic() > deadline:
            _fail(f"instance {instance!r} did not stop within {timeout_s} s")
        time.sleep(0.05)
    console.print(f"instance {instance} stopped")


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--port", default=8899, show_default=True, help="JSON-RPC port; PubSub is port + 1.")
@click.option("--rate", default=1000.0, show_default=True, help="Account notifications/s.")
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
def sim(port: int, rate: float, extra: tuple[str, ...]) -> None:
    """Run the market simulator alone: Solana JSON-RPC (HTTP) on 127.0.0.1:PORT and PubSub
    (WebSocket) on PORT+1, for phantom-pipeline or any Solana client. Further flags go to
    `phantom-sim` (`phantom-sim --help`: slot length, seed, volatility, dislocations,
    send-time log, fault knobs)."""
    import os

    from phantom_pipeline.binaries import MissingExecutableError, executable

    try:
        exe = str(executable("phantom-sim"))
    except MissingExecutableError as e:
        _fail(str(e))
        return
    os.execv(exe, [exe, "--port", str(port), "--rate", str(rate), *extra])


@main.command()
@click.option(
    "--config", "config_path", required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Instance config.",
)  # fmt: skip
@click.option("--rpc", default=None, help="JSON-RPC URL (default: signer.rpc_endpoints[0]).")
@click.option("--wallet", default=None, help="Wallet pubkey (default: the key file's).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--check", is_flag=True, help="Exit 1 if an account is hand-written or missing.")
def routes(
    config_path: Path, rpc: str | None, wallet: str | None, as_json: bool, check: bool
) -> None:
    """Every route's accounts as the signer derives them from the pools and the wallet, each
    with its source (pool:FIELD, pda:SEEDS, ata:OWNER,MINT,PROGRAM or config). Wraps
    `phantom-signer --print-routes`: only the signer reads the key file."""
    import subprocess

    from phantom_pipeline.binaries import MissingExecutableError, executable

    try:
        exe = str(executable("phantom-signer"))
    except MissingExecutableError as e:
        _fail(str(e))
        return
    argv = [exe, "--config", str(config_path), "--print-routes"]
    if rpc:
        argv += ["--rpc", rpc]
    if wallet:
        argv += ["--wallet", wallet]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        _fail(out.stderr.strip().removeprefix("phantom-signer: ") or "phantom-signer failed", 2)
        return
    report = json.loads(out.stdout)
    problems = [(r, p) for r in report["routes"] for p in (*r["overrides"], *r["missing"])]
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        render_routes(report)
    if check and problems:
        for route, p in problems:
            what = (f"leg {p['leg']}: {p['name']} {p['address']} (mint {p['mint']}) does not "
                    f"exist; create it with `{p['create']}`" if "create" in p
                    else f"leg {p['leg']}: {p['name']} is hand-written ({p['configured']}), "
                    f"derived: {p['derived']}")  # fmt: skip
            err_console.print(f"[red]route {route['id']} ({route['name']}): {what}[/red]")
        sys.exit(1)


def render_routes(report: dict[str, Any]) -> None:
    console.print(f"wallet {report['wallet']}")
    for r in report["routes"]:
        for j, leg in enumerate(r["legs"]):
            t = Table(title=f"route {r['id']} {r['name']}: leg {j}, pool {leg['pool']}, "
                      f"{leg['program']} {leg['direction']}")  # fmt: skip
            for col in ("#", "name", "address", "w", "s", "source"):
                t.add_column(col)
            for a in leg["accounts"]:
                t.add_row(str(a["index"]), a["name"], a["address"], "w" if a["writable"] else "",
                          "s" if a["signer"] else "", a["source"])  # fmt: skip
            console.print(t)
        for p in r["overrides"]:
            console.print(f"[yellow]override: leg {p['leg']} {p['name']}[/yellow]")
        for p in r["missing"]:
            console.print(f"[red]missing: leg {p['leg']} {p['name']} {p['address']}: "
                          f"{p['create']}[/red]")  # fmt: skip


def _feeder_only(
    config_path: Path, instance: str, feeder_args: list[str], until: float | None, what: str
) -> dict[str, int]:
    """Run the feeder alone on a fresh instance's segments (draining the market ring) until
    it exits or ``until`` (monotonic) passes; remove the segments; return its counters."""
    import subprocess

    from phantom_pipeline import config as cfgmod
    from phantom_pipeline.binaries import executable
    from phantom_pipeline.instance import InstanceSegments, validate_instance_name
    from phantom_pipeline.segments import RingEnd

    validate_instance_name(instance)
    cfg = cfgmod.load(config_path)
    seg = InstanceSegments.create(instance, cfg)
    out = {"published": 0}
    try:
        rx = RingEnd(seg.market, "consumer")
        feeder = subprocess.Popen(
            [str(executable("phantom-feeder")), "--instance", instance, "--config",
             str(config_path), *feeder_args],
            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        c = seg.control
        last = time.monotonic()
        try:
            while feeder.poll() is None:
                n = 0
                while rx.pop() is not None:
                    n += 1
                out["published"] += n
                now = time.monotonic()
                if until is not None and now >= until:
                    c.store("run_state", 1)
                    feeder.wait(timeout=60)
                    break
                if now - last >= 1.0:
                    last = now
                    n_frames, n_pub = c.load("feeder_notifications"), out["published"]
                    err_console.print(
                        f"[dim]… {what}: {n_frames} notifications, {n_pub} published[/dim]"
                    )
                if n == 0:
                    time.sleep(0.001)
        finally:
            if feeder.poll() is None:
                feeder.kill()
            _, err = feeder.communicate(timeout=60)
        while rx.pop() is not None:
            out["published"] += 1
        if feeder.returncode != 0:
            raise click.ClickException(f"the feeder failed (exit {feeder.returncode}): "
                                       f"{err.strip()[-2000:]}")  # fmt: skip
        for key in ("feeder_notifications", "feeder_duplicates", "feeder_decode_errors",
                    "feeder_gaps"):  # fmt: skip
            out[key.removeprefix("feeder_")] = c.load(key)
        # The feeder counts each overflow in the ring's header and in feeder_overflows.
        out["overflows"] = seg.market.hdr("overflows")
    finally:
        seg.remove()
    return out


@main.command()
@click.option("--config", "config_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Config whose [feeder] endpoints and [[pools]] are recorded.")  # fmt: skip
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Recording file (appended to if it exists).")  # fmt: skip
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--instance", default="record", show_default=True,
              help="Instance name for the recording feeder's own segments.")  # fmt: skip
def record(config_path: Path, out: Path, duration: float | None, instance: str) -> None:
    """Record the feeder's input frames (with receive times), connects, drops and refetches
    from the configured endpoints to a file; Ctrl-C or --duration ends it."""
    from phantom_pipeline.config import ConfigError
    from phantom_pipeline.instance import InstanceError

    until = None if duration is None else time.monotonic() + duration
    try:
        r = _feeder_only(config_path, instance, ["--record", str(out)], until, "recording")
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return
    except (ConfigError, InstanceError, SegmentError, OSError) as e:
        _fail(str(e))
        return
    console.print(f"recorded {r['notifications']} notification frames to {out} "
                  f"({out.stat().st_size} bytes); {r['published']} records published")  # fmt: skip


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config", "config_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Instance config (the [[pools]] the recording was made with).")  # fmt: skip
@click.option(
    "--speed",
    default="1",
    show_default=True,
    help='"max" (as fast as the feeder takes them) or a factor of the recorded pace.',
)
@click.option("--instance", default="replay", show_default=True, help="Instance name.")
@click.option("--feeder-only", is_flag=True,
              help="Replay into the feeder alone (count what it publishes) instead of the "
              "whole pipeline.")  # fmt: skip
def replay(file: Path, config_path: Path, speed: str, instance: str, feeder_only: bool) -> None:
    """Replay a recording through the pipeline (feeder, strategy, signer as the config says),
    or into the feeder alone; ends when the recording does and everything is consumed."""
    from phantom_pipeline import config as cfgmod
    from phantom_pipeline.instance import InstanceError
    from phantom_pipeline.supervisor import Supervisor, SupervisorError

    args = ["--replay", str(file.resolve()), "--replay-speed", speed]
    try:
        if feeder_only:
            r = _feeder_only(config_path, instance, args, None, "replaying")
            console.print(f"replayed {r['notifications']} notification frames: "
                          f"{r['published']} records published, {r['overflows']} overflows, "
                          f"{r['decode_errors']} bad inputs")  # fmt: skip
            return
        cfg = cfgmod.load(config_path)
        sup = Supervisor(cfg, instance, None, False, feeder_args=args, finite_feeder=True)
        sup.start()
        assert sup.segments is not None
        c, market = sup.segments.control, sup.segments.market
        summary: dict[str, int] = {}
        span = [0.0, 0.0]  # first and last time the strategy's count moved

        def grab() -> None:
            ticks = c.load("strategy_ticks")
            if ticks != summary.get("ticks", 0):
                now = time.monotonic()
                span[0] = span[0] or now
                span[1] = now
            summary.update(published=market.hdr("tail"), signed=c.load("signer_signed"),
                           frames=c.load("feeder_notifications"), ticks=ticks,
                           overflows=market.hdr("overflows"),
                           skipped=c.load("strategy_ticks_skipped"))  # fmt: skip

        sup.run(None, on_tick=grab)
    except (cfgmod.ConfigError, InstanceError, SupervisorError, SegmentError, OSError) as e:
        _fail(str(e))
        return
    rate = summary.get("ticks", 0) / max(span[1] - span[0], 1e-3)
    console.print(f"replayed {summary.get('frames', 0)} notification frames through the "
                  f"pipeline: {summary.get('published', 0)} records published, "
                  f"{summary.get('ticks', 0)} read by the strategy (about {rate:,.0f}/s), "
                  f"{summary.get('overflows', 0)} overflows, {summary.get('skipped', 0)} ticks "
                  f"skipped, {summary.get('signed', 0)} transactions signed")  # fmt: skip


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--full", is_flag=True, help="Longer runs (e2e: 10 s per system and rate).")
@click.option(
    "--suite", type=click.Choice(["e2e", "ring", "signer", "feeder"]), default="e2e",
    show_default=True,
    help="e2e: simulator → signed transaction for phantom and the baselines (DESIGN §8); "
    "ring: rings vs a Rust floor and multiprocessing; signer: the signing hot path vs a bare "
    "sign, PyNaCl and solders; feeder: notifications decoded and published per second.",
)  # fmt: skip
@click.option("--systems", default=None,
              help="e2e: comma-separated systems (default: all of "
              "phantom-spin,phantom-adaptive,all-rust,pure-python,pure-python-tuned,mp-queue,"
              "zmq-msgpack).")  # fmt: skip
@click.option(
    "--rates",
    default=None,
    help="e2e: comma-separated offered rates, updates/s (default 10000,100000,1000000).",
)
@click.option(
    "--duration",
    type=float,
    default=None,
    help="e2e: seconds of market per system and rate (default 1.5; --full 10).",
)
@click.option("--cpus", default=None, help="e2e: pin the phantom processes to these CPUs.")
@click.option("--results", type=click.Path(file_okay=False, path_type=Path),
              default=Path("bench/results"), show_default=True,
              help="e2e: where the JSON report and the PNG plots are written.")  # fmt: skip
def bench(as_json: bool, full: bool, suite: str, systems: str | None, rates: str | None,
          duration: float | None, cpus: str | None, results: Path) -> None:  # fmt: skip
    """Benchmarks, reported as ratios to a baseline measured in the same run. The default
    (e2e) feeds the same simulated market into phantom (spin and adaptive waits), an all-Rust
    single process, idiomatic and tuned pure Python, and multiprocessing.Queue and
    ZeroMQ+msgpack bridges, and measures frame sent → transaction signed. The suites live in
    the benchmark package phantom-bench (``pip install ./bench``), not in the product."""
    try:
        from phantom_bench import suites
    except ModuleNotFoundError as e:
        if e.name is None or not e.name.startswith("phantom_bench"):
            raise
        _fail(
            "the benchmarks are not installed: run `pip install ./bench` in the "
            "phantom-pipeline repository (after `pip install .`)"
        )
        return
    try:
        suites.run(suite, as_json=as_json, full=full, systems=systems, rates=rates,
                   duration=duration, cpus=cpus, results=results, console=console,
                   err_console=err_console)  # fmt: skip
    except suites.SuiteError as e:
        _fail(str(e))


if __name__ == "__main__":
    main()
