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
import queue
import random
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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

T = TypeVar("T")


class RunDirError(OSError):
    """The run directory is not private to this user; the message names the path and why."""


def _private_dir(path: Path, create: bool = True) -> None:
    """Make sure ``path`` is a real directory (not a symlink) owned by this user with mode
    0700: created 0700 when missing, tightened when ours, refused otherwise."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise RunDirError(f"run directory {path} is a symlink: refusing to use it")
    if not stat.S_ISDIR(st.st_mode):
        raise RunDirError(f"run directory {path} is not a directory: refusing to use it")
    if st.st_uid != os.getuid():
        raise RunDirError(
            f"run directory {path} is owned by uid {st.st_uid}, not this user "
            f"(uid {os.getuid()}): refusing to use it"
        )
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path, 0o700, follow_symlinks=False)


def run_dir(instance: str) -> Path:
    """Private directory of an instance: socket, logs, params files, dry-run key, capture,
    kill-switch state. Under ``$XDG_RUNTIME_DIR`` (which must be this user's directory), else
    ``/tmp/phantom-pipeline-UID``; every level the project creates is 0700, owned by this
    user and not a symlink (:class:`RunDirError` otherwise)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        base = Path(xdg)
        st = os.stat(base)
        if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o022:
            raise RunDirError(
                f"XDG_RUNTIME_DIR {base} is owned by uid {st.st_uid} with mode "
                f"{stat.S_IMODE(st.st_mode):04o}: it must be this user's and not writable "
                "by others"
            )
    else:
        base = Path(f"/tmp/phantom-pipeline-{os.getuid()}")
        _private_dir(base)
    path = base / "phantom-pipeline"
    _private_dir(path)
    path = path / instance
    _private_dir(path)
    return path


def open_private(path: Path, append: bool = True) -> int:
    """Open (create 0600) a file in a run directory for writing, never through a symlink
    (``O_NOFOLLOW``). Returns the descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_APPEND if append else os.O_TRUNC
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (0600, written beside it and renamed over it, so a
    symlink at ``path`` is replaced, never followed)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = open_private(tmp, append=False)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


KILL_SWITCH_STATE = "kill-switch.state"


def read_kill_switch_state(directory: Path) -> tuple[bool, str]:
    """The persisted kill switch of an instance: (on, why). Fails closed: a file that
    cannot be read, is not a regular file or says anything but ``on``/``off`` is on."""
    path = directory / KILL_SWITCH_STATE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False, "no state recorded"
    except OSError as e:
        return True, f"{path} cannot be read ({e}): on"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return True, f"{path} is not a regular file: on"
        text = os.read(fd, 64).decode("ascii", "replace").strip()
    except OSError as e:
        return True, f"{path} cannot be read ({e}): on"
    finally:
        os.close(fd)
    if text in ("on", "off"):
        return text == "on", f"recorded {text} in {path}"
    return True, f"{path} says {text!r}, not on/off: on"


def write_kill_switch_state(directory: Path, on: bool) -> None:
    write_private(directory / KILL_SWITCH_STATE, "on\n" if on else "off\n")


class _Spawner:
    """The one long-lived thread that forks every child. ``PR_SET_PDEATHSIG`` (which each
    child sets itself, ``--supervisor-pid``) fires when the *thread* that forked the child
    exits, so children must never be forked from a thread that may end before the
    supervisor process does (a request handler, a test's worker thread)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _loop(self) -> None:
        while True:
            fn, fut = self._jobs.get()
            try:
                fut.set_result(fn())
            except BaseException as e:  # handed to the caller, who raises it
                fut.set_exception(e)

    def call(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="phantom-spawner", daemon=True
                )
                self._thread.start()
        fut: Future[T] = Future()
        self._jobs.put((fn, fut))
        return fut.result()


SPAWNER = _Spawner()


def spawn(argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen(argv, **kw)`` from the spawner thread (see :class:`_Spawner`)."""
    return SPAWNER.call(lambda: subprocess.Popen(argv, **kw))


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
        """Start the process from the spawner thread, with ``--supervisor-pid`` (it dies
        with this process) and its output appended to its log (0600, never through a
        symlink)."""
        cpu = self.cpu
        logfd = open_private(self.log_path)

        def pin() -> None:
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        try:
            self.proc = spawn(
                [*self.argv, "--supervisor-pid", str(os.getpid())],
                stdin=subprocess.DEVNULL,
                stdout=logfd,
                stderr=subprocess.STDOUT,
                preexec_fn=pin,
                env=dict(self.env) if self.scrub_env else {**os.environ, **self.env},
                start_new_session=True,
            )
        finally:
            os.close(logfd)
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
        self._kill_switch_persisted = -1

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
            argv += ["--params", str(self._copy_params(params.read_text(), stamp))]
        elif params:
            text = _toml_table("params", params)
            argv += ["--params", str(self._copy_params(text, stamp))]
        if self.config.strategy.sandbox == "enforce":
            argv += ["--sandbox", *self.grants.argv()]
        return argv

    def _copy_params(self, data: str, stamp: int) -> Path:
        """A params file as the strategy reads it: a copy in its params directory."""
        path = self.strategy_dir / f"params-{stamp}.toml"
        write_private(path, data)
        return path

    def prepare_strategy(self) -> None:
        """The strategy's own directory (``<run_dir>/strategy/``): its config without the
        feeder's and signer's tables (no endpoint URL, no key path), and its params files;
        the sandbox grants it read access. Refuses a grant that holds a secret."""
        self.numba_cache.mkdir(parents=True, exist_ok=True)
        self.runner_dir.mkdir(parents=True, exist_ok=True)
        _private_dir(self.strategy_dir)
        raw = self.config.raw
        only: dict[str, Any] = {k: raw[k] for k in ("strategy", "pools", "routes") if k in raw}
        write_private(self.strategy_dir / "config.toml", tomli_w.dumps(only))
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

    def check_live_mode(self) -> None:
        """Refuse a live/dry-run mismatch between ``signer.mode`` and ``--live`` with one
        line, before anything starts (the signer would refuse it on every restart)."""
        mode = self.config.raw.get("signer", {}).get("mode", "dry-run")
        where = self.config.path or "the config"
        if mode == "live" and not self.live:
            raise ConfigError(
                f'{where}: signer.mode is "live" but --live was not given: refusing to start '
                '(pass --live to send real transactions, or set mode = "dry-run")'
            )
        if self.live and mode != "live":
            raise ConfigError(
                f'{where}: --live was given but signer.mode is "{mode}": refusing to start '
                '(set mode = "live" as well, or drop --live)'
            )

    def check_rust_configs(self) -> None:
        """Run ``--check-config`` of feeder and signer on the file (they own their tables);
        the signer's with ``--live`` when starting live, so its live gate is checked too."""
        cfg = self.config.path
        assert cfg is not None
        self.check_live_mode()
        for name in ("phantom-feeder", "phantom-signer"):
            live = ["--live"] if self.live and name == "phantom-signer" else []
            p = subprocess.run(
                [str(executable(name)), "--instance", self.instance, "--config", str(cfg),
                 "--check-config", *live],
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
        write_private(self.dir / "instance-config.toml", self.config.path.read_text())
        self.segments = InstanceSegments.create(self.instance, self.config)
        try:
            self._open_control()
            c = self.segments.control
            # The kill switch survives recreated segments: its state lives in the run
            # directory, and anything unreadable there counts as on.
            on, why = read_kill_switch_state(self.dir)
            c.store("kill_switch", int(on))
            self._kill_switch_persisted = int(on)
            if on:
                log.warning("kill switch ON at start (%s)", why)
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
        self._beat()
        now_ns = _native.monotonic_ns()
        self._persist_kill_switch()
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

    def _beat(self) -> None:
        """The supervisor's own heartbeat and every segment's creator heartbeat."""
        assert self.segments is not None
        self.segments.control.store("hb_supervisor_ns", _native.monotonic_ns())
        self.segments.heartbeat()

    def _persist_kill_switch(self) -> None:
        """Record a changed control flag in the run directory (whoever changed it)."""
        assert self.segments is not None
        ks = self.segments.control.load("kill_switch")
        if ks != self._kill_switch_persisted:
            try:
                write_kill_switch_state(self.dir, bool(ks))
                self._kill_switch_persisted = ks
            except OSError as e:
                log.error("cannot record the kill switch in %s: %s", self.dir, e)

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
        write_private(self.dir / HALTED_FILE, json.dumps(self.halted))
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
                self.idle(POLL_INTERVAL_S)
        finally:
            self.shutdown()

    def idle(self, seconds: float) -> None:
        """Wait until the next poll is due, or a request arrives on the socket (so a request
        is answered at once, not a poll interval later)."""
        if self.sock is None:
            time.sleep(seconds)
            return
        with contextlib.suppress(OSError, ValueError):
            select.select([self.sock], [], [], seconds)

    # ------------------------------------------------------------------ requests

    def _serve_requests(self) -> None:
        """Answer at most ``MAX_REQUESTS_PER_POLL`` waiting requests. Each request must
        arrive whole within ``REQUEST_READ_S`` and hold at most ``MAX_REQUEST_BYTES``, so a
        slow or silent client cannot stall supervision."""
        if self.sock is None:
            return
        for _ in range(MAX_REQUESTS_PER_POLL):
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return
            with conn:
                try:
                    req = json.loads(
                        _read_all(conn, time.monotonic() + REQUEST_READ_S, MAX_REQUEST_BYTES)
                    )
                    if not isinstance(req, dict):
                        raise SupervisorError("a request is one JSON object")
                    reply = self._handle(req)
                except Exception as e:  # every failure goes back to the CLI, named
                    reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                with contextlib.suppress(OSError):
                    conn.settimeout(REQUEST_READ_S)
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
        # 1. The candidate warms up (until swap_warmup_timeout_ms) and asks for the lease.
        #    Every wait below keeps the heartbeats going, and has a deadline.
        warm_deadline = time.monotonic() + self.config.supervisor.swap_warmup_timeout_ms / 1000
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
            if time.monotonic() > warm_deadline:
                new.kill_and_reap()
                raise SupervisorError(
                    f"{strategy} did not ask for the lease within swap_warmup_timeout_ms "
                    f"({self.config.supervisor.swap_warmup_timeout_ms} ms): killed it; the "
                    "old strategy keeps trading"
                )
            self._beat()
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
            self._beat()
            time.sleep(0.0005)
        # 3. The candidate takes the lease (within the swap timeout, else it is killed and
        #    the lease released: the supervision loop restarts a strategy).
        take_deadline = time.monotonic() + timeout
        while c.load("lease_holder_pid") != new.pid:
            if not new.alive() or time.monotonic() > take_deadline:
                why = "died" if not new.alive() else f"did not take it within {timeout:.1f} s"
                new.kill_and_reap()
                self._release_for_dead_strategy()
                self.children["strategy"] = new
                raise SupervisorError(
                    f"{strategy} {why} while taking the lease:\n{new.log_tail(8)}"
                )
            self._beat()
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


MAX_REQUESTS_PER_POLL = 8
#: Seconds between two rounds of supervision (heartbeats are judged against
#: ``heartbeat_timeout_ms``, seconds; requests are answered as they arrive): 20 rounds a
#: second cost the supervisor well under 1 % of a core, where 200 cost about 3 %.
POLL_INTERVAL_S = 0.05
REQUEST_READ_S = 0.5
MAX_REQUEST_BYTES = 1 << 16


def _read_all(conn: socket.socket, deadline: float | None = None, limit: int = 1 << 24) -> bytes:
    """Read until EOF or a newline, by ``deadline`` (monotonic) and at most ``limit``
    bytes; either bound exceeded raises :class:`SupervisorError`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SupervisorError("request not received in time")
            conn.settimeout(left)
        try:
            b = conn.recv(65536)
        except TimeoutError:
            raise SupervisorError("request not received in time") from None
        if not b:
            break
        chunks.append(b)
        size += len(b)
        if size > limit:
            raise SupervisorError(f"request longer than {limit} bytes")
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
