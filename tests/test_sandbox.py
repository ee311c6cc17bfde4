"""The strategy sandbox (``phantom_pipeline.sandbox``): what a strategy process can and cannot
do once it has entered it.

* The primitives, in a throwaway process: Landlock lets it read only what is granted and
  write only its cache directories, and seccomp refuses every socket, so neither TCP nor the
  supervisor's UNIX socket can be reached; a signal to a process outside the sandbox fails.
* The supervisor refuses to grant a directory that holds the keypair, the config or the run
  directory.
* A hostile strategy swapped into a running embedded-default instance snoops the run
  directory, reads the key and the config, copies them, connects over TCP and to the
  control socket, and SIGKILLs the signer in its constructor: every attempt fails, the swap
  goes through, and the instance keeps trading with the same signer.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import cli, instance_status, wait_until
from phantom_pipeline import _native, sandbox
from phantom_pipeline.config import parse
from phantom_pipeline.sandbox import Grants, SandboxError
from phantom_pipeline.supervisor import Supervisor, SupervisorError

pytestmark = pytest.mark.skipif(
    _native.landlock_abi() < sandbox.MIN_ABI,
    reason=f"this kernel's Landlock ABI is below {sandbox.MIN_ABI}",
)


def test_check_grants_refuses_a_grant_holding_a_secret(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "id.json"
    g = Grants(read=[tmp_path], read_write=[tmp_path / "cache"])
    with pytest.raises(SandboxError, match=r"holds the keypair .*id\.json"):
        sandbox.check_grants(g, {"keypair": key})
    with pytest.raises(SandboxError, match="holds the run directory"):
        sandbox.check_grants(Grants(read=[tmp_path / "run"]), {"run directory": tmp_path / "run"})
    sandbox.check_grants(Grants(read=[tmp_path / "strategies"]), {"keypair": key})


PROBE = """
import json, os, signal, socket, sys
from pathlib import Path
from phantom_pipeline import sandbox
secret, cache, victim_pid, port, unix_path = sys.argv[1:6]
g = sandbox.grants([], Path(cache), Path(cache), Path(cache))
sandbox.assert_single_threaded()
sandbox.enter(g)
out = {}
def attempt(name, f):
    try:
        f()
        out[name] = "allowed"
    except OSError as e:
        out[name] = type(e).__name__
attempt("read_secret", lambda: open(secret).read())
attempt("list_dev_shm", lambda: os.listdir("/dev/shm"))
attempt("tcp_connect", lambda: socket.create_connection(("127.0.0.1", int(port)), timeout=5))
def unix():
    s = socket.socket(socket.AF_UNIX)
    s.connect(unix_path)
attempt("unix_connect", unix)
attempt("kill_outsider", lambda: os.kill(int(victim_pid), signal.SIGKILL))
attempt("write_cache", lambda: (Path(cache) / "ok").write_text("ok"))
attempt("write_elsewhere", lambda: (Path(secret).parent / "copy").write_text("x"))
attempt("import_numba", lambda: __import__("numba"))
print(json.dumps(out))
"""


def test_the_sandbox_blocks_files_network_sockets_and_signals(tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text("[1, 2, 3]")
    cache = tmp_path / "cache"
    cache.mkdir()
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    tcp.settimeout(0.1)
    unix_path = tmp_path / "s.sock"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(unix_path))
    unix.listen(1)
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        env = {**os.environ, **sandbox.THREAD_ENV}
        r = subprocess.run(
            [sys.executable, "-P", "-c", PROBE, str(secret), str(cache), str(victim.pid),
             str(tcp.getsockname()[1]), str(unix_path)],
            capture_output=True, text=True, timeout=300, env=env, check=False,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out == {
            "read_secret": "PermissionError",
            "list_dev_shm": "PermissionError",
            "tcp_connect": "PermissionError",
            "unix_connect": "PermissionError",
            "kill_outsider": "PermissionError",
            "write_cache": "allowed",
            "write_elsewhere": "PermissionError",
            "import_numba": "allowed",
        }
        assert victim.poll() is None, "the process outside the sandbox is still alive"
        assert not (tmp_path / "copy").exists()
        with pytest.raises(TimeoutError):
            tcp.accept()
    finally:
        victim.kill()
        victim.wait()
        tcp.close()
        unix.close()


def test_a_multithreaded_process_is_refused() -> None:
    code = (
        "import threading, time\n"
        "from phantom_pipeline import sandbox\n"
        "threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
        "sandbox.assert_single_threaded()\n"
    )
    env = {**os.environ, **sandbox.THREAD_ENV}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, env=env, check=False)  # fmt: skip
    assert r.returncode != 0 and "must be single-threaded" in r.stderr


HOSTILE = """
import ctypes, gc, json, mmap, os, shutil, signal, socket
from pathlib import Path
from phantom_pipeline.control import Control
from phantom_pipeline.strategies.arb import TwoPoolArb

RUN_DIR = Path({run_dir!r})
LOOT = Path({loot!r})
SIGNER_PID = {signer_pid}
PORT = {port}


class Hostile(TwoPoolArb):
    def __init__(self, params, routes):
        out = {{}}

        def attempt(name, f):
            try:
                f()
                out[name] = "allowed"
            except Exception as e:
                out[name] = type(e).__name__

        attempt("list_run_dir", lambda: os.listdir(RUN_DIR))
        attempt("read_key", lambda: (RUN_DIR / "dry-run-key.json").read_text())
        attempt("read_config", lambda: (RUN_DIR / "embedded-default.toml").read_text())
        attempt("read_capture", lambda: (RUN_DIR / "capture.jsonl").read_text())
        attempt("copy_key", lambda: shutil.copy(RUN_DIR / "dry-run-key.json", LOOT))
        attempt("tcp_connect", lambda: socket.create_connection(("127.0.0.1", PORT), 5))

        def control_socket():
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(RUN_DIR / "supervisor.sock"))

        attempt("control_socket", control_socket)
        attempt("kill_signer", lambda: os.kill(SIGNER_PID, signal.SIGKILL))

        # The control block: this process maps only its own (strategy) table writable.
        ctl = next(o for o in gc.get_objects() if isinstance(o, Control))
        attempt("spoof_signer_heartbeat", lambda: ctl.store("hb_signer_ns", 1))
        attempt("clear_kill_switch", lambda: ctl.store("kill_switch", 0))
        attempt("stop_the_run", lambda: ctl.store("run_state", 1))

        def numpy_write():
            ctl.views["control"].slots[0]["kill_switch"] = 0

        attempt("numpy_clear_kill_switch", numpy_write)

        def mprotect_writable():
            libc = ctypes.CDLL(None, use_errno=True)
            addr = ctypes.c_void_p(ctl.views["signer"].address)
            if libc.mprotect(addr, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_WRITE) != 0:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))

        attempt("mprotect_signer_table", mprotect_writable)
        signer_seg = ctl.views["signer"].name
        attempt("open_signer_table", lambda: os.open("/dev/shm/" + signer_seg, os.O_RDWR))

        def reopen_by_fd():
            for fd in range(3, 1024):
                try:
                    target = os.readlink("/proc/self/fd/%d" % fd)
                except OSError:
                    continue
                if target.endswith(signer_seg):
                    os.open("/proc/self/fd/%d" % fd, os.O_RDWR)
                    return
            raise LookupError("no descriptor of " + signer_seg)

        attempt("reopen_signer_table_by_fd", reopen_by_fd)
        print("HOSTILE " + json.dumps(out), flush=True)
        super().__init__(params, routes)
"""


CORRUPTER = """
import gc, os, threading, time
from phantom_pipeline import ringops
from phantom_pipeline.segments import RingEnd
from phantom_pipeline.strategies.arb import TwoPoolArb


def corrupt_once_producing():
    # Once this process produces into the intents ring (it holds the lease), move its tail
    # a million records past what it published, in the header and in its own state, so the
    # corruption stays.
    while True:
        for o in gc.get_objects():
            if (isinstance(o, RingEnd) and o.role == "producer"
                    and o.view.name.endswith("-intents")):
                o.state[ringops.ST_OWN] += 10**6
                o.view.header[0]["tail"] = int(o.state[ringops.ST_OWN])
                return
        time.sleep(0.05)


class Corrupter(TwoPoolArb):
    def __init__(self, params, routes):
        threading.Thread(target=corrupt_once_producing, daemon=True).start()
        super().__init__(params, routes)
"""


def test_a_hostile_strategy_swapped_in_achieves_nothing_and_trading_goes_on(
    instance: str, run_base: Path, tmp_path: Path
) -> None:

    strategies = tmp_path / "strategies"
    strategies.mkdir()
    env = {**os.environ, "PYTHONPATH": str(strategies)}
    r = cli("start", "--instance", instance, "--detach", env=env)
    try:
        assert r.returncode == 0, r.stderr + r.stdout
        wait_until(
            lambda: instance_status(instance)["signer"]["signed"] >= 1, timeout=240, what="signing"
        )
        st = instance_status(instance)
        signer_pid = st["processes"]["signer"]["pid"]
        run_dir = Path(st["signer"]["capture_path"]).parent
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(1)
        tcp.settimeout(0.1)
        loot = tmp_path / "loot.json"
        (strategies / "hostile_strategy.py").write_text(
            textwrap.dedent(HOSTILE).format(
                run_dir=str(run_dir),
                loot=str(loot),
                signer_pid=signer_pid,
                port=tcp.getsockname()[1],
            )
        )
        # The kill switch is on while the hostile strategy tries to clear it.
        r = cli("kill-switch", "on", "--instance", instance)
        assert r.returncode == 0, r.stderr
        r = cli("swap", "hostile_strategy:Hostile", "--instance", instance, "--json")
        assert r.returncode == 0, r.stderr
        log = (run_dir / "strategy.log").read_text()
        line = [ln for ln in log.splitlines() if ln.startswith("HOSTILE ")]
        assert line, log[-3000:]
        attempts = json.loads(line[-1].removeprefix("HOSTILE "))
        refused = {
            name: "PermissionError"
            for name in (
                "list_run_dir",
                "read_key",
                "read_config",
                "read_capture",
                "copy_key",
                "tcp_connect",
                "control_socket",
                "kill_signer",
                "mprotect_signer_table",
                "open_signer_table",
            )
        }
        # Another's control fields: refused by the accessor, read-only to numpy, and the
        # mapping can be neither reopened writable nor made writable (O_RDONLY descriptor).
        refused |= {
            "spoof_signer_heartbeat": "ReadOnlyFieldError",
            "clear_kill_switch": "ReadOnlyFieldError",
            "stop_the_run": "ReadOnlyFieldError",
            "numpy_clear_kill_switch": "ValueError",
        }
        assert {k: v for k, v in attempts.items() if k != "reopen_signer_table_by_fd"} == refused
        # /proc/self/fd is either unreadable or its link cannot be opened for writing.
        assert attempts["reopen_signer_table_by_fd"] in ("PermissionError", "LookupError")
        assert not loot.exists()
        with pytest.raises(TimeoutError):
            tcp.accept()
        tcp.close()
        before = instance_status(instance)
        assert before["processes"]["signer"]["pid"] == signer_pid
        assert before["processes"]["signer"]["alive"]
        assert before["processes"]["signer"]["restarts"] == 0
        assert before["strategy"]["name"] == "hostile_strategy:Hostile"
        assert before["signer"]["kill_switch"] and before["halted"] is None
        r = cli("kill-switch", "off", "--instance", instance)
        assert r.returncode == 0, r.stderr
        wait_until(lambda: instance_status(instance)["signer"]["signed"] > before["signer"]["signed"],
                   timeout=240, what="trading after the swap")  # fmt: skip

        # The index corrupter (a thread its constructor starts) moves the intents ring's tail
        # far past what it published once it holds the lease: the signer refuses the index
        # (reads nothing from it) and the instance halts, kill switch on, with the reason in
        # status.
        (strategies / "corrupter_strategy.py").write_text(textwrap.dedent(CORRUPTER))
        r = cli("swap", "corrupter_strategy:Corrupter", "--instance", instance)
        assert r.returncode == 0, r.stderr
        wait_until(
            lambda: instance_status(instance)["halted"] is not None, timeout=240, what="the halt"
        )
        st = instance_status(instance)
        assert "intents ring's indices broke" in st["halted"]["reason"]
        assert st["rings"]["intents"]["index_errors"] > 0
        assert st["signer"]["kill_switch"] and st["processes"]["signer"]["pid"] == signer_pid
        assert st["processes"]["signer"]["alive"]
    finally:
        stop = cli("stop", "--instance", instance)
        assert stop.returncode == 0, stop.stderr
    assert _native.instance_segments(instance) == []


def test_the_supervisor_refuses_an_import_path_that_holds_the_config(
    instance: str, run_base: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "instance.toml"
    text = '[strategy]\nimport_path = ["."]\n'
    cfg.write_text(text)
    sup = Supervisor(parse(text, cfg), instance, None)
    with pytest.raises(SupervisorError, match=r"holds the config .*instance\.toml"):
        sup.prepare_strategy()
    (tmp_path / "strategies").mkdir()
    text = '[strategy]\nimport_path = ["strategies"]\n'
    cfg.write_text(text)
    Supervisor(parse(text, cfg), instance, None).prepare_strategy()
