"""Shared fixtures: unique instance names, segment and process cleanup, executables.

Every test that touches shared memory gets its own instance name, and everything it creates
under that name is removed at teardown, pass or fail. Every subprocess a test starts through
``procs`` is killed and reaped at teardown. Waits are on conditions with generous deadlines,
never on sleeps.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from phantom_bench import tool
from phantom_pipeline import _native


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="run the slow tier too")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow") or os.environ.get("PHANTOM_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow tier: run with --slow or PHANTOM_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _numba_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    # One compile cache for the whole session, shared by the subprocesses the tests start.
    if "NUMBA_CACHE_DIR" not in os.environ:
        os.environ["NUMBA_CACHE_DIR"] = str(tmp_path_factory.mktemp("numba-cache"))


@pytest.fixture(scope="session", autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The signers' ledgers (XDG_STATE_HOME/phantom-pipeline/<instance>/) live with the
    # session's files, never in the user's state directory.
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))


@pytest.fixture
def instance() -> Iterator[str]:
    """A unique instance name; every segment named after it is removed at teardown."""
    name = f"t{os.getpid()}x{uuid.uuid4().hex[:8]}"
    yield name
    for seg in _native.list_segments(f"phantom-{name}-"):
        with contextlib.suppress(_native.SegmentError):
            _native.remove_segment(seg)


@pytest.fixture
def seg_name(instance: str) -> Callable[[str], str]:
    """``seg_name(role)`` -> ``phantom-<instance>-<role>``."""
    return lambda role: f"phantom-{instance}-{role}"


class Procs:
    """Subprocesses of one test; all killed and reaped at teardown."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def start(self, args: list[str], **kw: object) -> subprocess.Popen[str]:
        p = subprocess.Popen(  # type: ignore[call-overload]
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
        )
        self.started.append(p)
        return p  # type: ignore[no-any-return]

    def python(self, *args: str, **kw: object) -> subprocess.Popen[str]:
        return self.start([sys.executable, *args], **kw)

    def ring_tool(self, *args: str) -> subprocess.Popen[str]:
        return self.start([str(tool("phantom-ring")), *args])

    def cleanup(self) -> None:
        for p in self.started:
            if p.poll() is None:
                p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.communicate(timeout=30)


@pytest.fixture
def procs() -> Iterator[Procs]:
    ps = Procs()
    yield ps
    ps.cleanup()


def finish(p: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    """Wait for ``p`` (generous deadline) and return (returncode, stdout, stderr)."""
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def wait_until(cond: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``cond`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


def cli(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``phantom-pipeline ARGS`` (this interpreter's) and capture its output."""
    return subprocess.run([sys.executable, "-m", "phantom_pipeline.cli", *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)  # fmt: skip


@pytest.fixture
def run_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A run-directory base of the test's own, short enough for a Unix socket path (108
    bytes), as ``XDG_RUNTIME_DIR``; removed afterwards."""
    import shutil
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="pp", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(d))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def instance_status(instance: str) -> dict:  # type: ignore[type-arg]
    """``phantom-pipeline status --json`` of a running instance (fails the test if it fails)."""
    import json

    s = cli("status", "--instance", instance, "--json")
    assert s.returncode == 0, s.stderr
    return json.loads(s.stdout)  # type: ignore[no-any-return]
