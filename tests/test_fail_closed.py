"""Fail closed (issue 14), with real processes and real segments: children die with the
supervisor and the next start trades again; the kill switch survives restarts and reads
"on" whenever its state cannot be read; a segment mapped by a live process is never
cleaned; segments of another owner or mode are not attached; the run directory is private;
a live/dry-run mismatch is refused at start; heartbeat ages are never negative."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import Procs, cli, wait_until
from phantom_pipeline import _native
from phantom_pipeline.errors import SegmentError
from phantom_pipeline.status import heartbeat_age_ms
from phantom_pipeline.supervisor import (
    RunDirError,
    open_private,
    read_kill_switch_state,
    run_dir,
    socket_path,
    write_kill_switch_state,
)


def start_detached(instance: str, *extra: str) -> None:
    r = cli("start", "--instance", instance, "--detach", *extra)
    if r.returncode != 0:
        log = run_dir(instance) / "supervisor.log"
        tail = log.read_text()[-3000:] if log.exists() else ""
        raise AssertionError(f"start failed: {r.stderr}{r.stdout}\n{tail}")


def children_of(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat_line = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat_line[stat_line.rfind(")") + 2 :].split()
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def running(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return st[st.rfind(")") + 2] not in "ZX"


def status(instance: str) -> dict:  # type: ignore[type-arg]
    s = cli("status", "--instance", instance, "--json")
    assert s.returncode == 0, s.stderr
    return json.loads(s.stdout)  # type: ignore[no-any-return]


def test_children_die_with_the_supervisor_and_the_kill_switch_survives_the_restart(
    instance: str, run_base: Path
) -> None:
    r = cli("start", "--instance", instance, "--detach")
    pids: list[int] = []
    try:
        assert r.returncode == 0, r.stderr + r.stdout
        wait_until(lambda: status(instance)["signer"]["signed"] >= 3, timeout=240,
                   what="signed transactions")  # fmt: skip
        st = status(instance)
        for p in st["processes"].values():
            assert p["heartbeat_age_ms"] is None or p["heartbeat_age_ms"] >= 0, p
        capture = Path(st["signer"]["capture_path"])
        sup = st["processes"]["supervisor"]["pid"]
        pids = children_of(sup)
        names = {Path(f"/proc/{p}/exe").resolve().name for p in pids}
        assert {"phantom-feeder", "phantom-signer", "phantom-sim"} <= names, names
        assert len(pids) == 4, names  # and the strategy (python)
        assert cli("kill-switch", "on", "--instance", instance).returncode == 0

        # SIGKILL the supervisor alone: every child (simulator included) exits within 10 s.
        os.kill(sup, signal.SIGKILL)
        wait_until(lambda: not any(running(p) for p in pids), timeout=10,
                   what="the children to exit after the supervisor's SIGKILL")  # fmt: skip
        size = capture.stat().st_size
        # The segments are still there, but nobody maps them: `clean` may take them, while
        # it never takes a mapped one (test below). The next start cleans up by itself.
        start_detached(instance)
        assert capture.stat().st_size == size, "something was signed after the children died"
        st = status(instance)
        assert st["processes"]["supervisor"]["pid"] != sup
        assert st["signer"]["kill_switch"], "the kill switch did not survive the restart"
        wait_until(lambda: status(instance)["signer"]["rejected"].get("kill_switch", 0) > 0,
                   timeout=240, what="intents refused by the persisted kill switch")  # fmt: skip
        assert status(instance)["signer"]["signed"] == 0
        assert cli("kill-switch", "off", "--instance", instance).returncode == 0
        wait_until(lambda: status(instance)["signer"]["signed"] >= 3, timeout=240,
                   what="signing again after the restart")  # fmt: skip
        assert capture.stat().st_size > size
        pids = children_of(status(instance)["processes"]["supervisor"]["pid"])
    finally:
        stop = cli("stop", "--instance", instance)
    assert stop.returncode == 0, stop.stderr
    assert _native.list_segments(f"phantom-{instance}-") == []
    wait_until(lambda: not any(running(p) for p in pids), timeout=60, what="no process left")


def test_kill_switch_state_fails_closed(tmp_path: Path) -> None:
    assert read_kill_switch_state(tmp_path) == (False, "no state recorded")
    write_kill_switch_state(tmp_path, True)
    assert read_kill_switch_state(tmp_path)[0] is True
    assert stat.S_IMODE((tmp_path / "kill-switch.state").stat().st_mode) == 0o600
    write_kill_switch_state(tmp_path, False)
    assert read_kill_switch_state(tmp_path)[0] is False
    state = tmp_path / "kill-switch.state"
    state.write_text("maybe\n")
    on, why = read_kill_switch_state(tmp_path)
    assert on and "not on/off" in why
    state.unlink()
    state.symlink_to(tmp_path / "elsewhere")  # dangling symlink: never followed, on
    on, why = read_kill_switch_state(tmp_path)
    assert on and "cannot be read" in why
    state.unlink()
    state.mkdir()
    on, why = read_kill_switch_state(tmp_path)
    assert on and "not a regular file" in why
    state.rmdir()
    # Writing replaces a planted symlink instead of writing through it.
    target = tmp_path / "target"
    target.write_text("keep")
    state.symlink_to(target)
    write_kill_switch_state(tmp_path, False)
    assert target.read_text() == "keep" and not state.is_symlink()
    assert read_kill_switch_state(tmp_path)[0] is False


def test_kill_switch_on_an_unknown_instance_is_recorded_and_reported(
    instance: str, run_base: Path
) -> None:
    r = cli("kill-switch", "on", "--instance", instance)
    assert r.returncode == 1 and "recorded ON" in r.stderr, r.stderr
    assert read_kill_switch_state(run_dir(instance))[0] is True


def test_run_directory_is_private(run_base: Path, tmp_path: Path) -> None:
    d = run_dir("priv")
    for p in (d, d.parent):
        st = os.lstat(p)
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()
    os.chmod(d, 0o755)
    assert stat.S_IMODE(os.stat(run_dir("priv")).st_mode) == 0o700, "tightened"
    # A symlink where an instance directory should be is refused, not followed.
    (d.parent / "planted").symlink_to(tmp_path)
    with pytest.raises(RunDirError, match="is a symlink"):
        run_dir("planted")
    if os.getuid() == 0:  # root can make a directory someone else's
        other = d.parent / "theirs"
        other.mkdir(mode=0o700)
        os.chown(other, 12345, 12345)
        with pytest.raises(RunDirError, match="owned by uid 12345"):
            run_dir("theirs")
    # Logs and state files are never opened through a symlink.
    (d / "feeder.log").symlink_to(tmp_path / "victim")
    with pytest.raises(OSError):
        open_private(d / "feeder.log")
    assert not (tmp_path / "victim").exists()
    fd = open_private(d / "new.log")
    os.close(fd)
    assert stat.S_IMODE(os.stat(d / "new.log").st_mode) == 0o600


def test_world_writable_xdg_runtime_dir_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    d = Path(tempfile.mkdtemp(prefix="pp", dir="/tmp"))
    try:
        os.chmod(d, 0o777)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(d))
        with pytest.raises(RunDirError, match="not writable by others"):
            run_dir("x")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_live_dry_run_mismatch_is_refused_at_start_with_one_line(
    instance: str, run_base: Path
) -> None:
    r = cli("start", "--instance", instance, "--live")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and '--live was given but signer.mode is "dry-run"' in lines[0], r.stderr
    assert _native.list_segments(f"phantom-{instance}-") == []
    cfg = run_dir(instance) / "embedded-default.toml"
    live = run_base / "live.toml"
    live.write_text(cfg.read_text().replace('mode = "dry-run"', 'mode = "live"'))
    r = cli("start", "--instance", instance, "--config", str(live))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and '"live" but --live was not given' in lines[0], r.stderr
    assert _native.list_segments(f"phantom-{instance}-") == []


def test_heartbeat_ages_are_never_negative() -> None:
    assert heartbeat_age_ms(0, 5) is None
    assert heartbeat_age_ms(2_000_000, 1_000_000) == 0.0
    assert heartbeat_age_ms(2**64 - 1, 1_000_000) == 0.0
    assert heartbeat_age_ms(1_000_000, 3_500_000) == 2.5


# ---------------------------------------------------------------------- segments


HOLD = """
import sys, time
from phantom_pipeline import _native
seg = _native.Segment.attach(sys.argv[1], "ProbeRecord", "ring")
print("held", flush=True)
sys.stdin.readline()
"""

CREATE_AND_EXIT = """
import sys
from phantom_pipeline import _native
_native.Segment.create(sys.argv[1], "ProbeRecord", "ring", 64)
"""


def test_clean_never_removes_a_segment_mapped_by_a_live_process(
    seg_name: object, procs: Procs
) -> None:
    name = seg_name("probe")  # type: ignore[operator]
    r = subprocess.run([sys.executable, "-c", CREATE_AND_EXIT, name], check=False,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    holder = procs.python("-c", HOLD, name, stdin=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    # Creator gone; every heartbeat "stale" at a 1 ns threshold: only the lock keeps it.
    seg = _native.Segment.open_unchecked(name)
    assert seg.held_by_others()
    del seg
    removed, kept = _native.clean_stale(name, 1)
    assert removed == [] and "mapped by a running process" in kept[0][1], kept
    with pytest.raises(_native.SegmentLiveError, match="lock is held"):
        _native.remove_if_stale(name, 1)
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(timeout=120)
    removed, kept = _native.clean_stale(name, 1)
    assert removed == [name] and kept == []


def test_segments_of_another_owner_or_mode_are_not_attached(seg_name: object) -> None:
    name = seg_name("foreign")  # type: ignore[operator]
    seg = _native.Segment.create(name, "ProbeRecord", "ring", 64)
    path = Path("/dev/shm") / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    del seg
    os.chmod(path, 0o644)
    with pytest.raises(SegmentError, match=rf"{name}: owned by uid {os.getuid()} with mode 0644"):
        _native.Segment.attach(name, "ProbeRecord", "ring")
    os.chmod(path, 0o600)
    _native.Segment.attach(name, "ProbeRecord", "ring")
    if os.getuid() == 0:
        os.chown(path, 12345, 12345)
        with pytest.raises(SegmentError, match=rf"{name}: owned by uid 12345 with mode 0600"):
            _native.Segment.attach(name, "ProbeRecord", "ring")
    # clean refuses it too (kept, with the reason), and never maps it.
    removed, kept = _native.clean_stale(name, 1)
    if os.getuid() == 0:
        assert removed == [] and "owned by uid 12345" in kept[0][1]
    _native.remove_segment(name)


def test_a_silent_client_does_not_stall_the_supervisor(instance: str, run_base: Path) -> None:
    r = cli("start", "--instance", instance, "--detach")
    silent: list[socket.socket] = []
    try:
        assert r.returncode == 0, r.stderr + r.stdout
        for _ in range(4):  # connect and say nothing
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(socket_path(instance)))
            silent.append(s)
        # The CLI's stop request waits 30 s for its answer: four silent clients that each
        # held the loop for 10 s (the old read) would outlast it; bounded reads do not.
        stop = cli("stop", "--instance", instance)
        assert stop.returncode == 0, stop.stderr
    finally:
        for s in silent:
            s.close()
        cli("stop", "--instance", instance)
    assert _native.list_segments(f"phantom-{instance}-") == []
