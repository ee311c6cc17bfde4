"""Preflight mode end to end (issue 18): the embedded default's signer in `mode =
"preflight"` simulates its signed transactions on the simulator, which executes them on the
real Raydium CPMM program; every failure other than slippage is a bug. The simulations pass
through a recording proxy (a third-party RPC as the signer sees it): signatures zeroed,
`sigVerify` false, at most `preflight_max_per_second`."""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, Procs, cli, instance_status, wait_until
from phantom_pipeline import _native
from phantom_pipeline.binaries import executable
from phantom_pipeline.embedded import default_config, funding_args, throwaway_key

PROGRAMS = REPO.parent / "shared" / "programs"
pytestmark = pytest.mark.skipif(
    not (PROGRAMS / "raydium_cp_swap.so").is_file(), reason=f"no program binaries in {PROGRAMS}"
)
SLIPPAGE = {"ExceededSlippage", "AmountOutBelowMinimum"}


class RecordingProxy:
    """Forwards JSON-RPC to ``upstream`` and keeps every simulateTransaction request."""

    def __init__(self, upstream: str) -> None:
        self.simulations: list[list[Any]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                call = json.loads(body)
                if isinstance(call, dict) and call.get("method") == "simulateTransaction":
                    proxy.simulations.append(call["params"])
                req = urllib.request.Request(upstream, data=body,
                                             headers={"Content-Type": "application/json"})  # fmt: skip
                with urllib.request.urlopen(req, timeout=60) as r:
                    reply = r.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxied_sim(
    procs: Procs, tmp_path: Path
) -> Iterator[tuple[dict[str, Any], Path, RecordingProxy]]:
    key, wallet = throwaway_key(tmp_path)
    p = procs.start([str(executable("phantom-sim")), "--port", "0", "--rate", "2000",
                     "--dislocation-probability", "0.05", "--dislocation", "0.02",
                     "--programs", str(PROGRAMS), *funding_args(wallet)])  # fmt: skip
    assert p.stdout is not None
    ready = json.loads(p.stdout.readline())
    proxy = RecordingProxy(ready["rpc"])
    try:
        yield ready, key, proxy
    finally:
        proxy.close()
        p.kill()


def test_preflight_executes_the_embedded_routes_and_fails_only_on_slippage(
    instance: str, run_base: Path, tmp_path: Path,
    proxied_sim: tuple[dict[str, Any], Path, RecordingProxy],
) -> None:  # fmt: skip
    ready, key, proxy = proxied_sim
    assert ready["executed"] == ["raydium_cpmm", "orca_whirlpool"]
    assert ready["modelled"] == ["raydium_amm_v4"]
    config = default_config({**ready, "rpc": proxy.url}, tmp_path, key, mode="preflight")
    config = config.replace(
        'mode = "preflight"', 'mode = "preflight"\npreflight_max_per_second = 2'
    )
    path = tmp_path / "preflight.toml"
    path.write_text(config)
    r = cli("start", "--config", str(path), "--instance", instance, "--detach")
    try:
        assert r.returncode == 0, r.stderr + r.stdout

        def simulated() -> bool:
            pf = instance_status(instance)["signer"]["preflight"]
            return pf is not None and pf["ok"] + sum(pf["failed"].values()) >= 12

        wait_until(simulated, timeout=300, what="12 preflight simulations")
        st = instance_status(instance)
        assert st["signer"]["mode"] == "preflight"
        assert st["signer"]["sent"] == 0
        capture = Path(st["signer"]["capture_path"])
    finally:
        stop = cli("stop", "--instance", instance)
    assert stop.returncode == 0, stop.stderr
    assert _native.list_segments(f"phantom-{instance}-") == []
    from phantom_pipeline.status import preflight_stats

    pf = preflight_stats(instance)
    assert pf is not None
    print("preflight counts:", json.dumps(pf))
    bugs = {k: n for k, n in pf["failed"].items() if k not in SLIPPAGE}
    assert bugs == {}, f"failures other than slippage: {bugs}"
    assert pf["ok"] > 0 and pf["errors"] == 0 and pf["modelled"] == 0
    assert 10_000 < pf["units_p50"] <= pf["units_max"] < 300_000
    for route in pf["routes"].values():
        assert route["compute_unit_limit"] == 300_000 and route["units_max"] > 0
    # Every signed transaction has a capture line with its preflight outcome; the counts are
    # those of the lines.
    lines = [json.loads(x) for x in capture.read_text().splitlines()]
    outcomes = [x["preflight"] for x in lines]
    assert sum(1 for o in outcomes if o.get("skipped")) == pf["skipped"]
    simulated_lines = [o for o in outcomes if not o.get("skipped")]
    assert sum(1 for o in simulated_lines if o["err"] is None) == pf["ok"]
    for o in simulated_lines:
        assert o["logs_tail"], o
        if o["err"] is not None:
            assert o["reason"] in SLIPPAGE, o
    # What the third party saw: one request per simulation, signature zeroed, no sigVerify,
    # never more than the rate allows (2 a second, a burst of 2).
    assert len(proxy.simulations) == len(simulated_lines)
    for params in proxy.simulations:
        wire = base64.b64decode(params[0])
        assert wire[1:65] == bytes(64)
        assert params[1]["sigVerify"] is False


def test_start_preflight_reports_compute_units_on_the_real_programs(
    instance: str, run_base: Path
) -> None:
    r = cli("start", "--instance", instance, "--detach", "--preflight", "--programs", str(PROGRAMS))
    try:
        assert r.returncode == 0, r.stderr + r.stdout

        def simulated() -> bool:
            pf = instance_status(instance)["signer"]["preflight"]
            return pf is not None and pf["ok"] >= 5

        wait_until(simulated, timeout=300, what="5 successful preflight simulations")
        pf = instance_status(instance)["signer"]["preflight"]
        print("start --preflight counts:", json.dumps(pf))
        assert {k for k in pf["failed"]} <= SLIPPAGE, pf
        assert pf["units_p50"] > 10_000
        show = cli("status", "--instance", instance)
        assert "preflight: ok" in show.stdout, show.stdout
    finally:
        stop = cli("stop", "--instance", instance)
    assert stop.returncode == 0, stop.stderr
