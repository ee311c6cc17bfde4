"""A lying or flooding endpoint against a real `phantom-feeder` process.

Each test starts `phantom-sim` with one hostile knob (docs/guarantees.md, "Endpoints") and a
feeder reading it, and checks four things: the feeder's counter for that refusal in the
control block, a clear log line naming it, a bounded peak RSS (VmHWM) of the feeder, and a
pools table equal to the simulator's accounts (the truth, over JSON-RPC) once the market is
frozen. Endpoint URLs carry a fake API key in their path and query; it must appear in no
log line and not in ``status --json``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_feeder import config_text, table_matches_market

from conftest import Procs, wait_until
from phantom_pipeline import status
from phantom_pipeline.binaries import executable
from phantom_pipeline.config import parse, redact_url
from phantom_pipeline.instance import InstanceSegments
from phantom_pipeline.segments import TableView
from phantom_pipeline.supervisor import run_dir

#: Peak RSS the feeder must stay under, whatever an endpoint sends (KiB). Its steady state
#: with these pools is far lower; a frame of --oversized-frame-bytes read whole, or one
#: thread per refetch, or a subscription map per flooded reply would show up.
FEEDER_PEAK_RSS_KIB = 24 * 1024
SECRET = "SECRET-KEY-4f1d"
FLOOD = 5000


def proc_status(pid: int, key: str) -> int:
    """A numeric field of /proc/PID/status (``VmHWM`` in kB, ``Threads``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


class Run:
    """A simulator with hostile knobs, a feeder reading it, and the instance segments."""

    def __init__(self, instance: str, procs: Procs, tmp_path: Path, sim_flags: list[str],
                 feeder_keys: tuple[str, ...] = (), steps: int = 3000,
                 rate: int = 20000) -> None:  # fmt: skip
        self.instance, self.procs, self.tmp = instance, procs, tmp_path
        p = procs.start([str(executable("phantom-sim")), "--port", "0", "--rate", str(rate),
                         "--slot-ms", "20", "--steps", str(steps),
                         "--start-after-subscriptions", "1", *sim_flags])  # fmt: skip
        assert p.stdout is not None
        self.sim: dict[str, Any] = json.loads(p.stdout.readline())
        keyed = dict(self.sim)
        keyed["ws"] = f"{self.sim['ws']}/{SECRET}?api-key={SECRET}"
        keyed["rpc"] = f"{self.sim['rpc']}/{SECRET}?api-key={SECRET}"
        extra = "".join(k + "\n" for k in feeder_keys)
        self.text = config_text(keyed).replace("[feeder]\n", "[feeder]\n" + extra, 1)
        self.cfg_path = tmp_path / "instance.toml"
        self.cfg_path.write_text(self.text)
        self.seg = InstanceSegments.create(instance, parse(self.text, self.cfg_path))
        self.table = TableView(self.seg.pools)
        self.log_path = tmp_path / "feeder.log"
        self.feeder = self.start_feeder()
        self.max_threads = 0

    def start_feeder(self) -> subprocess.Popen[str]:
        with self.log_path.open("a") as log:
            p = subprocess.Popen([str(executable("phantom-feeder")), "--instance", self.instance,
                                  "--config", str(self.cfg_path)],
                                 stdout=subprocess.DEVNULL, stderr=log, text=True)  # fmt: skip
        self.procs.started.append(p)
        return p

    def log(self) -> str:
        return self.log_path.read_text()

    def counter(self, name: str) -> int:
        return int(self.seg.control.entry[name][0])

    def settle(self, cond: Callable[[], bool], what: str) -> None:
        """Wait until ``cond`` holds and the table equals the simulator's accounts."""

        def ok() -> bool:
            assert self.feeder.poll() is None, self.log()[-4000:]
            self.max_threads = max(self.max_threads, proc_status(self.feeder.pid, "Threads"))
            return cond() and table_matches_market(self.table, self.sim)

        wait_until(ok, timeout=240, what=what)

    def finish(self) -> str:
        """Check the peak RSS and that no URL secret leaked, stop the feeder, return its log."""
        peak = proc_status(self.feeder.pid, "VmHWM")
        assert peak < FEEDER_PEAK_RSS_KIB, f"feeder peak RSS {peak} KiB"
        self.seg.control.store("run_state", 1)
        assert self.feeder.wait(timeout=60) == 0, self.log()[-4000:]
        log = self.log()
        assert SECRET not in log, "an endpoint URL's path or query reached the log"
        self.seg.remove()
        print(f"feeder peak RSS {peak} KiB, threads at most {self.max_threads}")
        return log


def test_lying_slots_are_refused_counted_and_never_freeze_a_pool(
    instance: str, procs: Procs, tmp_path: Path
) -> None:
    r = Run(instance, procs, tmp_path, ["--lying-slot-every", "50"])
    r.settle(lambda: r.counter("endpoint_slot_refused") >= 20, "lies refused, table right")
    refused = r.counter("endpoint_slot_refused")
    log = r.finish()
    assert "slot refused" in log and "slot 9223372036854775808 is beyond the bound" in log
    print(f"slot lies refused: {refused}")


def test_a_poisoned_slot_left_in_the_table_is_discarded_when_the_feeder_restarts(
    instance: str, procs: Procs, tmp_path: Path
) -> None:
    r = Run(instance, procs, tmp_path, [])
    r.settle(lambda: True, "the table to equal the market")
    r.seg.control.store("run_state", 1)
    assert r.feeder.wait(timeout=60) == 0
    # An earlier feeder accepted a lie: slot 2^63 and a wrong price in pool 0.
    rec = r.table.read(0).copy()
    rec["last_slot"] = 1 << 63
    rec["vault_a_amount"] += 1
    rec["sqrt_price_lo"] ^= 1
    r.table.write(0, rec)
    assert not table_matches_market(r.table, r.sim)
    r.seg.control.store("run_state", 0)
    r.feeder = r.start_feeder()
    r.settle(lambda: int(r.table.read(0)["last_slot"]) < 1 << 63, "the poisoned slot replaced")
    log = r.finish()
    assert "discarded slot 9223372036854775808 left in the pools table by an earlier run" in log


def test_an_oversized_frame_is_refused_by_the_client_without_buffering_it(
    instance: str, procs: Procs, tmp_path: Path
) -> None:
    # 15 MiB: under tungstenite's own default limits (16 MiB frames), over max_frame_bytes;
    # read whole, it alone would take the feeder past its RSS bound.
    r = Run(instance, procs, tmp_path, ["--oversized-frame-bytes", str(15 << 20)])
    r.settle(lambda: r.counter("endpoint_frames_too_large") >= 2, "oversized frames refused")
    refused = r.counter("endpoint_frames_too_large")
    log = r.finish()
    assert "frame over max_frame_bytes (1048576): a frame of 15728640 bytes refused" in log
    print(f"oversized frames refused: {refused}")


def test_a_flood_of_subscription_replies_is_refused_and_bounded(
    instance: str, procs: Procs, tmp_path: Path
) -> None:
    r = Run(instance, procs, tmp_path, ["--subscription-reply-flood", str(FLOOD)])
    requests = sum(3 if p["kind"] != "orca_whirlpool" else 1 for p in r.sim["pools"]) + 1
    per_connection = FLOOD * requests
    r.settle(lambda: r.counter("endpoint_subscription_replies_refused") >= per_connection,
             "the flood refused")  # fmt: skip
    refused = r.counter("endpoint_subscription_replies_refused")
    log = r.finish()
    # Every extra reply of every connection is refused, none taken.
    assert refused % per_connection == 0, (refused, per_connection)
    assert "subscription reply refused" in log and "already subscribed as" in log
    print(f"subscription replies refused: {refused}")


def test_a_wrong_owner_is_refused_and_the_table_repaired_from_json_rpc(
    instance: str, procs: Procs, tmp_path: Path
) -> None:
    fake = "11111111111111111111111111111111"
    r = Run(instance, procs, tmp_path, ["--wrong-owner", fake])
    r.settle(lambda: r.counter("endpoint_owner_refused") >= 10, "wrong owners refused")
    refused = r.counter("endpoint_owner_refused")
    # status --json shows the counters and the endpoints without their path or query.
    rd = run_dir(instance)
    try:
        (rd / "instance-config.toml").write_text(r.text)
        st = status.collect(instance)
    finally:
        shutil.rmtree(rd, ignore_errors=True)
    ep = st["feeder"]["endpoints"][0]
    assert SECRET not in json.dumps(st)
    assert ep["ws"] == redact_url(r.sim["ws"] + "/x") and ep["ws"].endswith("/…")
    assert ep["refused"]["owner"] >= refused
    log = r.finish()
    assert f'is owned by "{fake}", expected' in log and "owner refused (notification)" in log
    print(f"wrong owners refused: {refused}")


def test_a_stalled_json_rpc_times_out_with_one_refetch_in_flight(
    instance: str, procs: Procs, tmp_path: Path
) -> None:
    # Drops make the feeder reconnect (and refetch) over and over while the RPC stalls;
    # once the market is frozen the endpoint answers again and a refetch repairs the table.
    r = Run(instance, procs, tmp_path,
            ["--rpc-stall-ms", "2000", "--drop-every", "300", "--faults-end-with-market"],
            feeder_keys=("rpc_timeout_ms = 300",), steps=6000, rate=2000)  # fmt: skip
    r.settle(lambda: r.counter("endpoint_refetch_failures") >= 2, "refetches timed out")
    failures = r.counter("endpoint_refetch_failures")
    gaps = r.seg.control.load("feeder_gaps")
    log = r.finish()
    assert "refetch failed" in log and "timeout" in log.lower()
    # One refetch in flight: the threads do not grow with the reconnects.
    assert r.max_threads <= 8, r.max_threads
    assert gaps >= 4, "the drops made the feeder reconnect"
    print(f"refetch failures: {failures}, gaps {gaps}, threads at most {r.max_threads}")


def test_redact_url_keeps_scheme_and_host_only() -> None:
    assert redact_url("http://127.0.0.1:8899") == "http://127.0.0.1:8899"
    assert redact_url("https://x.pro/TOKEN/") == "https://x.pro/…"
    assert redact_url("https://x.pro?api-key=T") == "https://x.pro/…"
    assert redact_url("wss://x.pro#T") == "wss://x.pro/…"
    assert redact_url("https://user:pw@host/") == "https://host/…"
    assert redact_url("https://user:pw@host") == "https://host/…"
    assert redact_url("nonsense") == "<not a URL>"
