"""The strategy sandbox: what a strategy process may touch, decided by the supervisor, enforced
by the process on itself before it imports any user code.

The order (``phantom_pipeline.runtime``):

1. the supervisor starts ``python -P -m phantom_pipeline.runtime`` with a strategy-only config
   (``<run_dir>/strategy/config.toml``: ``[strategy]``, ``[[pools]]``, ``[[routes]]``; no
   ``[feeder]``, no ``[signer]``, so no endpoint URL or key path) and a scrubbed environment
   (:func:`environment`), having refused to start when a granted path holds the keypair, the
   config or the run directory (:func:`check_grants`);
2. the process checks that it runs single-threaded (:func:`assert_single_threaded`; the BLAS
   and OpenMP thread counts are pinned to 1 by the environment);
3. it maps its segments;
4. it restricts itself (:func:`enter`): Landlock (read the Python installation, the system
   libraries and the strategy's import path; read-write its numba cache and runner
   directories; read ``<run_dir>/strategy/``; nothing else: not the key, the config, the run
   directory or ``/dev/shm``; no TCP; no signal or abstract socket outside the sandbox), then
   seccomp on every thread (no ``socket()`` of any family, io_uring, ptrace,
   ``process_vm_*``, x32/ia32 system calls);
5. only then does it import the strategy, validate its params and warm it up, on
   process-private memory.

``[strategy] sandbox = "off"`` skips steps 2 and 4, and ``start`` and ``status`` warn.
"""

from __future__ import annotations

import os
import site
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from phantom_pipeline import _native

#: The thread counts of the numeric libraries, pinned so the process stays single-threaded
#: (seccomp is synchronised across threads, and a strategy needs no thread pool).
THREAD_ENV: dict[str, str] = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}

#: Variables passed through from the supervisor's environment; everything else is dropped.
PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PHANTOM_LOG")

#: Files and directories of the system every Python process reads (shared libraries,
#: the dynamic loader's cache, time zone, CPU topology, the null and random devices).
SYSTEM_READ = (
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/sys/devices/system/cpu",
    "/dev/null",
    "/dev/urandom",
)

MIN_ABI: int = _native.LANDLOCK_MIN_ABI
DENIED_SYSCALLS: tuple[str, ...] = tuple(_native.SANDBOX_DENIED_SYSCALLS)


class SandboxError(Exception):
    """The sandbox cannot be set up as configured; the message says why."""


@dataclass
class Grants:
    """The paths a sandboxed strategy may read, and read and write."""

    read: list[Path] = field(default_factory=list)
    read_write: list[Path] = field(default_factory=list)

    def argv(self) -> list[str]:
        """The runtime's command-line form (``--sandbox-read``, ``--sandbox-rw``)."""
        out: list[str] = []
        for p in self.read:
            out += ["--sandbox-read", str(p)]
        for p in self.read_write:
            out += ["--sandbox-rw", str(p)]
        return out


def python_paths() -> list[Path]:
    """The Python installation: prefixes, site-packages and this package's own directory
    (an editable install lives outside site-packages)."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    paths.update(Path(p) for p in site.getsitepackages())
    user = Path(site.getusersitepackages())
    if user.is_dir():
        paths.add(user)
    import numba
    import numpy

    for module in (sys.modules["phantom_pipeline"], numpy, numba):
        if module.__file__:
            paths.add(Path(module.__file__).resolve().parent)
    return sorted(p for p in paths if p.exists())


def grants(
    import_path: list[Path], numba_cache: Path, runner_dir: Path, params_dir: Path
) -> Grants:
    """Everything the sandbox grants, resolved (symbolic links followed)."""
    read = [*python_paths(), *(Path(p) for p in SYSTEM_READ if Path(p).exists())]
    read += [p for p in import_path if p.exists()]
    read.append(params_dir)
    return Grants(
        read=sorted({p.resolve() for p in read}),
        read_write=sorted({p.resolve() for p in (numba_cache, runner_dir)}),
    )


def check_grants(g: Grants, forbidden: dict[str, Path]) -> None:
    """Refuse a grant that holds a forbidden path (the keypair, the config, the run
    directory), naming both."""
    for what, path in forbidden.items():
        target = path.resolve()
        for granted in [*g.read, *g.read_write]:
            if target == granted or granted in target.parents:
                raise SandboxError(
                    f"the strategy sandbox would grant {granted}, which holds the {what} "
                    f"({target}); move the strategy's import path ([strategy] import_path) or "
                    "the file elsewhere"
                )


def environment(numba_cache: Path, runner_dir: Path) -> dict[str, str]:
    """The strategy's whole environment: a few passed-through variables, the thread pins,
    and where numba and the runner cache their code."""
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update(THREAD_ENV)
    env["NUMBA_CACHE_DIR"] = str(numba_cache)
    env["PHANTOM_RUNNER_DIR"] = str(runner_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def assert_single_threaded() -> None:
    """The process has one thread, and the numeric libraries are pinned to one."""
    wrong = {k: os.environ.get(k) for k, v in THREAD_ENV.items() if os.environ.get(k) != v}
    if wrong:
        raise SandboxError(f"thread counts not pinned to 1: {wrong}")
    tasks = os.listdir("/proc/self/task")
    if threading.active_count() != 1 or len(tasks) != 1:
        raise SandboxError(
            f"the strategy process must be single-threaded before it is sandboxed, but it has "
            f"{len(tasks)} threads"
        )


def enter(g: Grants) -> int:
    """Restrict this process: Landlock, then seccomp on every thread. Irreversible. Returns
    the kernel's Landlock ABI."""
    abi = _native.landlock_abi()
    if abi < MIN_ABI:
        raise SandboxError(
            f"this kernel's Landlock ABI is {abi}; the sandbox needs {MIN_ABI} (Linux 6.12) "
            '(set [strategy] sandbox = "off" to run unsandboxed)'
        )
    try:
        _native.sandbox_filesystem([str(p) for p in g.read], [str(p) for p in g.read_write])
        _native.sandbox_syscalls()
    except OSError as e:
        raise SandboxError(f"cannot enter the sandbox: {e}") from e
    return abi


def kernel_check() -> str | None:
    """Why this kernel cannot run the sandbox, or None when it can."""
    abi = _native.landlock_abi()
    if abi >= MIN_ABI:
        return None
    lost = {
        0: "Landlock is absent or disabled: no file, network or signal restriction",
        1: "no rename across directories, truncation, TCP or signal scoping",
        2: "no truncation, TCP or signal scoping",
        3: "no TCP restriction or signal scoping",
        4: "no ioctl on devices, no signal or abstract-socket scoping",
        5: "no signal or abstract-socket scoping (a strategy could signal the signer)",
    }.get(abi, "")
    return f"Landlock ABI {abi} < {MIN_ABI}: {lost}"
