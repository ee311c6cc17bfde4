"""The supervisor: creates an instance's segments, starts feeder, signer and strategy as
separate processes, pins them, restarts the ones that die (exponential backoff with jitter),
watches heartbeats, performs hot swaps, and removes the segments on stop. It is not on the
hot path: it polls every few milliseconds and talks to the CLI over a Unix socket in the
instance's run directory (JSON, one request and one reply per connection).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from phantom_pipeline import _native, sandbox
from phantom_pipeline.binaries import executable
from phantom_pipeline.config import Config, ConfigError
from phantom_pipeline.constants import LEASE_HELD, LEASE_RELEASED, LEASE_STEP_DOWN_REQUESTED
from phantom_pipeline.instance import InstanceSegments
from phantom_pipeline.runner import runner_dir
from phantom_pipeline.runtime import force_release

log = logging.getLogger("phantom.supervisor")

PROCESSES = ("feeder", "signer", "strategy")

#: In the run directory while the instance is halted: ``{"reason", "since"}``.
HALTED_FILE = "halted.json"


def run_dir(instance: str) -> Path:
    """Private (0700) directory of an instance: socket, logs, params files, dry-run key."""
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/phantom-pipeline-{os.getuid()}"
    path = Path(base) / "phantom-pipeline" / instance
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def socket_path(instance: str) -> Path:
    return run_dir(instance) / "supervisor.sock"


class SupervisorError(Exception):
    """A supervisor operation failed; the message says why."""


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    cpu: int | None
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    backoff_ms: int = 0
    restart_at: float = 0.0
    started_at: float = 0.0
    env: dict[str, str] = field(default_factory=dict)
    #: The child's whole environment is ``env`` (the sandboxed strategy), not ours plus it.
    scrub_env: bool = False
    #: When (monotonic s) it was scheduled for a restart, within the restart window.
    restart_times: list[float] = field(default_factory=list)

    def spawn(self) -> None:
        cpu = self.cpu
        logf = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child

        def pin() -> None:
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                preexec_fn=pin,
                env=dict(self.env) if self.scrub_env else {**os.environ, **self.env},
                start_new_session=True,
            )
        finally:
            logf.close()
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill_and_reap(self, timeout: float = 30.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)

    def log_tail(self, n: int = 20) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


class Supervisor:
    """Runs one instance."""

    def __init__(
        self,
        config: Config,
        instance: str,
        cpus: list[int] | None,
        live: bool = False,
        feeder_args: list[str] | None = None,
        finite_feeder: bool = False,
    ) -> None:
        """``feeder_args`` are added to the feeder's command line (``--frame-log``,
        ``--replay``); with ``finite_feeder`` (a replay) the feeder's clean exit is the end of
        the input: it is not restarted, and the run ends once the strategy and the signer have
        consumed everything."""
        self.feeder_args = list(feeder_args or [])
        self.finite_feeder = finite_feeder
        self.feeder_done = False
        self.config = config
        self.instance = instance
        self.cpus = cpus
        self.live = live
        self.dir = run_dir(instance)
        self.strategy_dir = self.dir / "strategy"
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        self.numba_cache = Path(
            os.environ.get("NUMBA_CACHE_DIR") or cache / "phantom-pipeline" / "numba"
        )
        self.runner_dir = runner_dir()
        self.children: dict[str, Child] = {}
        self.segments: InstanceSegments | None = None
        self.sock: socket.socket | None = None
        self.stopping = False
        #: Why and since when (Unix s) the instance is halted: too many restarts.
        self.halted: dict[str, Any] | None = None

    # ------------------------------------------------------------------ set-up

    def _cpu_for(self, index: int) -> int | None:
        if not self.cpus:
            return None
        return self.cpus[index % len(self.cpus)]

    def _strategy_argv(self, name: str, params: dict[str, Any] | Path | None) -> list[str]:
        """The strategy's command line: ``python -P`` (no script directory or working
        directory on its import path), the strategy-only config, the params copied into the
        params directory, and the sandbox's grants (DESIGN §10, ``phantom_pipeline.sandbox``)."""
        argv = [sys.executable, "-P", "-m", "phantom_pipeline.runtime", "--instance",
                self.instance, "--strategy", name, "--wait", self.config.strategy.wait,
                "--batch", str(self.config.strategy.batch),
                "--config", str(self.strategy_dir / "config.toml")]  # fmt: skip
        stamp = time.time_ns()
        if isinstance(params, Path):
            argv += ["--params", str(self._copy_params(params.read_bytes(), stamp))]
        elif params:
            text = _toml_table("params", params).encode()
            argv += ["--params", str(self._copy_params(text, stamp))]
        if self.config.strategy.sandbox == "enforce":
            argv += ["--sandbox", *self.grants.argv()]
        return argv

    def _copy_params(self, data: bytes, stamp: int) -> Path:
        """A params file as the strategy reads it: a copy in its params directory."""
        path = self.strategy_dir / f"params-{stamp}.toml"
        _write_private(path, data)
        return path

    def prepare_strategy(self) -> None:
        """The strategy's own directory (``<run_dir>/strategy/``): its config without the
        feeder's and signer's tables (no endpoint URL, no key path), and its params files;
        the sandbox grants it read access. Refuses a grant that holds a secret."""
        self.numba_cache.mkdir(parents=True, exist_ok=True)
        self.runner_dir.mkdir(parents=True, exist_ok=True)
        self.strategy_dir.mkdir(mode=0o700, exist_ok=True)
        raw = self.config.raw
        only: dict[str, Any] = {k: raw[k] for k in ("strategy", "pools", "routes") if k in raw}
        _write_private(self.strategy_dir / "config.toml", tomli_w.dumps(only).encode())
        if self.config.strategy.sandbox != "enforce":
            log.warning('the strategy runs UNSANDBOXED ([strategy] sandbox = "off")')
            return
        problem = sandbox.kernel_check()
        if problem:
            raise SupervisorError(
                f"the strategy sandbox cannot run on this kernel: {problem}; upgrade the "
                'kernel, or set [strategy] sandbox = "off" to run strategies unsandboxed'
            )
        forbidden = {"run directory": self.dir}
        if self.config.path is not None:
            forbidden["config"] = self.config.path
        key = self.config.raw.get("signer", {}).get("keypair_path")
        if isinstance(key, str):
            forbidden["keypair"] = Path(key)
        try:
            sandbox.check_grants(self.grants, forbidden)
        except sandbox.SandboxError as e:
            raise SupervisorError(str(e)) from None

    @property
    def grants(self) -> sandbox.Grants:
        return sandbox.grants(self.import_path, self.numba_cache, self.runner_dir,
                              self.strategy_dir)  # fmt: skip

    @property
    def import_path(self) -> list[Path]:
        """Where strategies are imported from: ``[strategy] import_path`` (relative to the
        config's directory) and the supervisor's ``PYTHONPATH``."""
        base = self.config.path.parent if self.config.path is not None else Path.cwd()
        paths = [(base / p).resolve() for p in self.config.strategy.import_path]
        extra = os.environ.get("PYTHONPATH", "")
        paths += [Path(p).resolve() for p in extra.split(os.pathsep) if p]
        return paths

    def _strategy_env(self) -> dict[str, str]:
        if self.config.strategy.sandbox != "enforce":
            return {}
        env = sandbox.environment(self.numba_cache, self.runner_dir)
        if self.import_path:
            env["PYTHONPATH"] = os.pathsep.join(str(p) for p in self.import_path)
        return env

    def strategy_child(self, argv: list[str], cpu: int | None) -> Child:
        enforce = self.config.strategy.sandbox == "enforce"
        return Child("strategy", argv, cpu, self.dir / "strategy.log", env=self._strategy_env(),
                     scrub_env=enforce)  # fmt: skip

    def _specs(self) -> list[Child]:
        cfg = self.config.path
        if cfg is None:
            raise SupervisorError("the supervisor needs a config file for feeder and signer")
        feeder = [
            str(executable("phantom-feeder")),
            "--instance",
            self.instance,
            "--config",
            str(cfg),
            *self.feeder_args,
        ]
        signer = [
            str(executable("phantom-signer")),
            "--instance",
            self.instance,
            "--config",
            str(cfg),
        ]
        if self.live:
            signer.append("--live")
        strategy = self._strategy_argv(self.config.strategy.name, self.config.strategy.params)
        return [
            Child("feeder", feeder, self._cpu_for(0), self.dir / "feeder.log"),
            Child("signer", signer, self._cpu_for(1), self.dir / "signer.log"),
            self.strategy_child(strategy, self._cpu_for(2)),
        ]

    def check_rust_configs(self) -> None:
        """Run ``--check-config`` of feeder and signer on the file (they own their tables)."""
        cfg = self.config.path
        assert cfg is not None
        for name in ("phantom-feeder", "phantom-signer"):
            p = subprocess.run(
                [str(executable(name)), "--instance", self.instance, "--config", str(cfg),
                 "--check-config"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            if p.returncode != 0:
                raise ConfigError((p.stderr or p.stdout).strip() or f"{name} refused the config")

    def start(self) -> None:
        """Create segments and start every process. On failure nothing is left behind."""
        (self.dir / HALTED_FILE).unlink(missing_ok=True)
        self.prepare_strategy()
        specs = self._specs()
        self.check_rust_configs()
        assert self.config.path is not None
        # status reads the endpoints and pools from this copy (no secrets: key paths only).
        copy = self.dir / "instance-config.toml"
        copy.write_text(self.config.path.read_text())
        copy.chmod(0o600)
        self.segments = InstanceSegments.create(self.instance, self.config)
        try:
            self._open_control()
            c = self.segments.control
            # A replay starts its input once the strategy holds the lease and the signer
            # runs: otherwise a fast replay is over (and its ticks are old) before they are up.
            order = sorted(specs, key=lambda ch: self.finite_feeder and ch.name == "feeder")
            for child in order:
                if child.name == "feeder" and self.finite_feeder:
                    self._wait_ready(c)
                self.children[child.name] = child
                child.spawn()
                c.store(f"pid_{child.name}", child.pid)
        except BaseException:
            self.shutdown()
            raise

    def _wait_ready(self, c: Any, timeout_s: float = 300.0) -> None:
        """Supervise until the strategy holds the lease and the signer has a heartbeat."""
        deadline = time.monotonic() + timeout_s
        while not (c.load("lease_state") == LEASE_HELD and c.load("hb_signer_ns") > 0):
            self.poll()
            if time.monotonic() > deadline:
                raise SupervisorError(
                    f"strategy and signer not ready within {timeout_s:.0f} s; logs in {self.dir}"
                )
            time.sleep(0.01)

    def _open_control(self) -> None:
        """Announce this supervisor in the control block and open the control socket."""
        assert self.segments is not None
        self.segments.control.store("pid_supervisor", os.getpid())
        self.segments.control.store("hb_supervisor_ns", _native.monotonic_ns())
        path = socket_path(self.instance)
        if len(str(path)) > 100:
            raise SupervisorError(
                f"control socket path {path} is longer than a Unix socket allows (108 bytes); "
                "set XDG_RUNTIME_DIR to a shorter directory"
            )
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(path))
        os.chmod(path, 0o600)
        s.listen(8)
        s.setblocking(False)
        self.sock = s

    # ------------------------------------------------------------------ running

    def poll(self) -> None:
        """One round of supervision: heartbeats, dead children, restarts, requests."""
        assert self.segments is not None
        c = self.segments.control
        now_ns = _native.monotonic_ns()
        c.store("hb_supervisor_ns", now_ns)
        self.segments.heartbeat()
        timeout_ns = self.config.supervisor.heartbeat_timeout_ms * 1_000_000
        self._check_ring_indices()
        for i, child in enumerate(self.children.values()):
            if child.proc is not None and child.proc.poll() is not None:
                if child.name == "feeder" and self.finite_feeder and child.proc.returncode == 0:
                    if not self.feeder_done:
                        log.info("the feeder finished its input")
                    self.feeder_done = True
                    continue
                self._schedule_restart(child, f"exited with code {child.proc.returncode}")
            elif child.proc is None and time.monotonic() >= child.restart_at:
                child.spawn()
                c.store(f"pid_{child.name}", child.pid)
                entry = c.entry["restarts"]
                entry[i] = child.restarts
                log.warning("%s restarted (pid %d)", child.name, child.pid)
            elif child.alive():
                hb = c.load(f"hb_{child.name}_ns")
                started_ns = int((time.monotonic() - child.started_at) * 1e9)
                if hb and now_ns - hb > timeout_ns and started_ns > timeout_ns:
                    log.error("%s heartbeat is %d ms old: killing it", child.name,
                              (now_ns - hb) // 1_000_000)  # fmt: skip
                    child.kill_and_reap()
                    if child.name == "strategy":
                        self._release_for_dead_strategy()
                    self._schedule_restart(child, "heartbeat lost")
        self._serve_requests()

    def _drained(self) -> bool:
        """Whether the strategy has read every market record and the signer every intent."""
        assert self.segments is not None
        return all(
            ring.hdr("tail") == ring.hdr("head")
            for ring in (self.segments.market, self.segments.intents)
        )

    def _release_for_dead_strategy(self) -> None:
        assert self.segments is not None
        c = self.segments.control
        if c.load("lease_state") in (LEASE_HELD, LEASE_STEP_DOWN_REQUESTED):
            force_release(c, self.segments.market, self.segments.intents)

    def _schedule_restart(self, child: Child, why: str) -> None:
        if self.stopping:
            return
        log.error("%s (pid %d) %s; last log lines:\n%s", child.name, child.pid, why,
                  child.log_tail())  # fmt: skip
        if child.name == "strategy":
            self._release_for_dead_strategy()
        s = self.config.supervisor
        now = time.monotonic()
        child.restart_times = [t for t in child.restart_times if now - t < s.restart_window_s]
        child.restart_times.append(now)
        if len(child.restart_times) > s.max_restarts:
            self._halt(
                f"{child.name} died {len(child.restart_times)} times within "
                f"{s.restart_window_s} s (max_restarts = {s.max_restarts}): {why}"
            )
            child.proc = None
            child.restart_at = float("inf")
            return
        child.backoff_ms = min(
            s.restart_backoff_max_ms, max(s.restart_backoff_min_ms, child.backoff_ms * 2)
        )
        jitter = random.uniform(0.5, 1.0)
        child.restart_at = time.monotonic() + child.backoff_ms * jitter / 1000
        child.restarts += 1
        child.proc = None

    def _check_ring_indices(self) -> None:
        """Halt when the feeder or the signer refused a ring index the strategy wrote (it
        owns the heads of market and reports and the tail of intents): a strategy that breaks
        a ring's invariant is not trusted to trade on."""
        assert self.segments is not None
        if self.halted is not None:
            return
        for role in ("market", "intents", "reports"):
            n = getattr(self.segments, role).hdr("index_errors")
            if n:
                self._halt(
                    f"the {role} ring's indices broke the ring's invariant ({n} refused loads): "
                    "the strategy wrote a bad ring index"
                )
                return

    def _halt(self, reason: str) -> None:
        """Stop trading for good: the kill switch goes on, nothing is restarted, and
        ``status`` shows why (``halted.json`` in the run directory)."""
        if self.halted is not None:
            return
        assert self.segments is not None
        self.segments.control.store("kill_switch", 1)
        self.halted = {"reason": reason, "since": time.time()}
        _write_private(self.dir / HALTED_FILE, json.dumps(self.halted).encode())
        log.critical("instance halted, kill switch on: %s", reason)

    def run(
        self, duration_s: float | None = None, on_tick: Callable[[], None] | None = None
    ) -> None:
        """Supervise until stopped (signal, ``stop`` request) or ``duration_s`` passes."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        import threading

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
            signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        try:
            while not self.stopping:
                self.poll()
                if on_tick is not None:
                    on_tick()
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if self.feeder_done and self._drained():
                    break
                time.sleep(0.005)
        finally:
            self.shutdown()

    # ------------------------------------------------------------------ requests

    def _serve_requests(self) -> None:
        if self.sock is None:
            return
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return
            with conn:
                conn.setblocking(True)
                conn.settimeout(10)
                try:
                    req = json.loads(_read_all(conn))
                    reply = self._handle(req)
                except Exception as e:  # every failure goes back to the CLI, named
                    reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply).encode())

    def _handle(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = req.get("cmd")
        if cmd == "swap":
            params = req.get("params")
            return {"ok": True, **self.swap(req["strategy"], Path(params) if params else None)}
        if cmd == "stop":
            self.stopping = True
            return {"ok": True}
        if cmd == "processes":
            return {"ok": True, "processes": self.process_status()}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    def process_status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"supervisor": {"pid": os.getpid(), "alive": True, "restarts": 0}}
        for name, child in self.children.items():
            out[name] = {"pid": child.pid, "alive": child.alive(), "restarts": child.restarts}
        return out

    def swap(self, strategy: str, params: Path | None) -> dict[str, Any]:
        """Hot-swap the strategy (DESIGN §5): the new process warms up and asks for the
        lease; the old one steps down, or is killed and reaped after the swap timeout."""
        assert self.segments is not None
        c = self.segments.control
        old = self.children["strategy"]
        old_epoch = c.load("lease_epoch")
        skipped_before = c.load("strategy_ticks_skipped")
        new = self.strategy_child(self._strategy_argv(strategy, params), old.cpu)
        new.spawn()
        timeout = self.config.supervisor.swap_timeout_ms / 1000
        # 1. The candidate warms up (no deadline but its own exit) and asks for the lease.
        asked = (LEASE_STEP_DOWN_REQUESTED, LEASE_RELEASED)
        while not (c.load("swap_candidate_pid") == new.pid and c.load("lease_state") in asked):
            if not new.alive():
                new.kill_and_reap()
                raise SupervisorError(
                    f"{strategy} refused (exit code {new.proc.returncode if new.proc else '?'});"
                    f" the old strategy keeps trading:\n{new.log_tail(8)}"
                )
            if c.load("lease_holder_pid") == new.pid:
                break
            time.sleep(0.0005)
        # 2. The holder steps down within the timeout, or is killed and reaped.
        deadline = time.monotonic() + timeout
        killed = False
        while c.load("lease_state") == LEASE_STEP_DOWN_REQUESTED:
            if time.monotonic() > deadline:
                log.error(
                    "strategy pid %d did not step down in %.1f s: killing it", old.pid, timeout
                )
                old.kill_and_reap()
                force_release(c, self.segments.market, self.segments.intents)
                killed = True
                break
            time.sleep(0.0005)
        # 3. The candidate takes the lease.
        while c.load("lease_holder_pid") != new.pid:
            if not new.alive():
                raise SupervisorError(f"{strategy} died while taking the lease:\n{new.log_tail(8)}")
            time.sleep(0.0005)
        if not killed:
            with contextlib.suppress(subprocess.TimeoutExpired):
                old.proc.wait(timeout=timeout) if old.proc else None
            old.kill_and_reap()
        new.restarts = old.restarts
        self.children["strategy"] = new
        c.store("pid_strategy", new.pid)
        return {
            "old_epoch": old_epoch,
            "new_epoch": c.load("lease_epoch"),
            "gap_ns": c.load("swap_t_acquired_ns") - c.load("swap_t_released_ns"),
            "ticks_skipped": c.load("strategy_ticks_skipped") - skipped_before,
            "strategy": strategy,
            "old_killed": killed,
        }

    # ------------------------------------------------------------------ stop

    def shutdown(self) -> None:
        """Graceful stop: ask every process to finish (the signer drains accepted intents),
        kill what is left after a grace period, remove the segments and the socket."""
        self.stopping = True
        if self.segments is not None:
            self.segments.control.store("run_state", 1)
        deadline = time.monotonic() + 10
        for child in self.children.values():
            if child.proc is None:
                continue
            if child.alive():
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(signal.SIGTERM)
            left = max(0.1, deadline - time.monotonic())
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(timeout=left)
            child.kill_and_reap()
        if self.segments is not None:
            self.segments.control.store("run_state", 2)
            self.segments.remove()
            self.segments = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            with contextlib.suppress(FileNotFoundError):
                socket_path(self.instance).unlink()


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while True:
        b = conn.recv(65536)
        if not b:
            break
        chunks.append(b)
        if b.endswith(b"\n"):
            break
    return b"".join(chunks)


def request(instance: str, req: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    """Send one request to an instance's supervisor and return its reply."""
    path = socket_path(instance)
    if not path.exists():
        raise SupervisorError(
            f"no supervisor for instance {instance!r} ({path} missing): is it running?"
        )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            raise SupervisorError(f"the supervisor of {instance!r} is not answering") from None
        s.sendall(json.dumps(req).encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        data = _read_all(s)
    reply: dict[str, Any] = json.loads(data)
    if not reply.get("ok"):
        raise SupervisorError(str(reply.get("error", "request failed")))
    return reply


def _write_private(path: Path, data: bytes) -> None:
    """Write ``path`` with mode 0600 (created or replaced)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _toml_table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[{name}]"]
    for k, v in values.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, int | float):
            lines.append(f"{k} = {v}")
        elif isinstance(v, str):
            lines.append(f"{k} = {json.dumps(v)}")
        else:
            raise ConfigError(f"strategy.params.{k}: only numbers, booleans and strings")
    return "\n".join(lines) + "\n"
