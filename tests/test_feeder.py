"""The feeder end to end: a real simulator, a real `phantom-feeder` process, the instance's
segments; the pools table must equal the simulator's accounts once the market is frozen, the
market ring (drained by a numba consumer in this process) carries the updates in order, and a
dropped connection becomes Gap records and a refetch. (The strategy side of the ring is tested
in test_swap.py.)"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from conftest import Procs, finish, wait_until
from phantom_pipeline import ringops
from phantom_pipeline.binaries import executable
from phantom_pipeline.config import parse
from phantom_pipeline.constants import MARKET_GAP, MARKET_POOL_UPDATE
from phantom_pipeline.instance import InstanceSegments
from phantom_pipeline.segments import RingEnd, TableView

STEPS = 3000


@njit(cache=True)
def drain_market(st: Any, slots: Any, seqs: Any, n: int, bad: Any) -> int:
    """Consume every market record available (numba, zero-copy): record its seq, count any
    with t_pub < t_recv; returns the new count."""
    k = ringops.available(st)
    base = st[ringops.ST_OWN]
    mask = st[ringops.ST_CAP] - 1
    for j in range(k):
        rec = slots[(base + j) & mask]
        if n < seqs.shape[0]:
            seqs[n] = rec.seq
        if rec.t_pub_ns < rec.t_recv_ns:
            bad[0] += 1
        n += 1
    ringops.release(st, k)
    return n


def start_sim(procs: Procs, *extra: str) -> dict[str, Any]:
    p = procs.start([str(executable("phantom-sim")), "--port", "0", "--rate", "20000",
                     "--slot-ms", "20", "--steps", str(STEPS), *extra])  # fmt: skip
    assert p.stdout is not None
    return json.loads(p.stdout.readline())  # type: ignore[no-any-return]


def config_text(sim: dict[str, Any], endpoints: int = 1) -> str:
    lines = ["[feeder]", "endpoints = ["]
    lines += [f'  {{ ws = "{sim["ws"]}", rpc = "{sim["rpc"]}" }},'] * endpoints
    lines += ["]", "read_timeout_ms = 20000", "reconnect_backoff_min_ms = 10",
              "reconnect_backoff_max_ms = 100"]  # fmt: skip
    for p in sim["pools"]:
        lines += ["[[pools]]", f'kind = "{p["kind"]}"', f'address = "{p["address"]}"']
        if p["kind"] != "orca_whirlpool":
            lines.append(f'vaults = ["{p["vaults"][0]}", "{p["vaults"][1]}"]')
        else:
            lines.append("decimals = [9, 6]")
        if p["kind"] == "raydium_cpmm":
            lines += ["fee_numerator = 2500", "fee_denominator = 1000000"]
    return "\n".join(lines) + "\n"


def truth(sim: dict[str, Any]) -> list[bytes | None]:
    keys = [k for p in sim["pools"] for k in [p["address"], *p["vaults"]]]
    body = {"jsonrpc": "2.0", "id": 1, "method": "getMultipleAccounts",
            "params": [keys, {"encoding": "base64"}]}  # fmt: skip
    req = urllib.request.Request(sim["rpc"], data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=60) as r:
        values = json.loads(r.read())["result"]["value"]
    import base64

    return [None if v is None else base64.b64decode(v["data"][0]) for v in values]


def table_matches_market(table: TableView, sim: dict[str, Any]) -> bool:
    """Whether every pool in the table is complete and priced as the simulator's accounts
    are now (vault balances; a Whirlpool's sqrt price)."""
    accounts = truth(sim)
    for i, p in enumerate(sim["pools"]):
        pool, va, vb = accounts[3 * i : 3 * i + 3]
        assert pool is not None and va is not None and vb is not None
        s = table.read(i)
        if int(s["ready"]) != 1:
            return False
        if p["kind"] == "orca_whirlpool":
            got = int(s["sqrt_price_lo"]) | int(s["sqrt_price_hi"]) << 64
            if got != int.from_bytes(pool[65:81], "little"):
                return False
        elif (int(s["vault_a_amount"]), int(s["vault_b_amount"])) != (
            int.from_bytes(va[64:72], "little"),
            int.from_bytes(vb[64:72], "little"),
        ):
            return False
    return True


def test_the_pools_table_equals_the_simulators_accounts(instance: str, procs: Procs,
                                                          tmp_path: Path) -> None:  # fmt: skip
    sim = start_sim(procs)
    cfg_path = tmp_path / "instance.toml"
    text = config_text(sim, endpoints=2)
    cfg_path.write_text(text)
    seg = InstanceSegments.create(instance, parse(text, cfg_path))
    feeder = procs.start([str(executable("phantom-feeder")), "--instance", instance,
                          "--config", str(cfg_path)])  # fmt: skip
    rx = RingEnd(seg.market, "consumer")
    table = TableView(seg.pools)

    def matches() -> bool:
        return table_matches_market(table, sim)

    seqs = np.zeros(1 << 20, dtype=np.int64)
    bad = np.zeros(1, dtype=np.int64)
    count = [0]

    def drain_and_match() -> bool:
        assert feeder.poll() is None, feeder.stderr.read() if feeder.stderr else ""
        count[0] = drain_market(rx.state, rx.slots, seqs, count[0], bad)
        return matches()

    wait_until(drain_and_match, timeout=120, what="the table to equal the frozen market")
    assert feeder.poll() is None
    n = min(count[0], seqs.size)
    assert n > 0 and bad[0] == 0, "every record was published after it was received"
    assert (seqs[:n] == np.arange(n)).all(), "market records are gapless and in order"
    c = seg.control
    assert c.load("feeder_notifications") > 0
    assert c.load("feeder_duplicates") > 0, "two endpoints deliver each update twice"
    assert c.load("feeder_decode_errors") == 0
    wins = [int(w) for w in c.entry["endpoint_wins"][:2]]
    assert sum(wins) > 0
    c.store("run_state", 1)
    rc, _, err = finish(feeder, timeout=60)
    assert rc == 0, err
    seg.remove()


def test_a_dropped_connection_becomes_gap_records_and_the_table_is_refetched(
    instance: str, procs: Procs, tmp_path: Path
) -> None:
    sim = start_sim(procs, "--drop-every", "500", "--malformed-probability", "0.01")
    cfg_path = tmp_path / "instance.toml"
    text = config_text(sim)
    cfg_path.write_text(text)
    seg = InstanceSegments.create(instance, parse(text, cfg_path))
    feeder = procs.start([str(executable("phantom-feeder")), "--instance", instance,
                          "--config", str(cfg_path)])  # fmt: skip
    rx = RingEnd(seg.market, "consumer")
    kinds: list[int] = []

    def two_gaps_each_way() -> bool:
        assert feeder.poll() is None, feeder.stderr.read() if feeder.stderr else ""
        while (rec := rx.pop()) is not None:
            kinds.append(int(rec["kind"]))
        return kinds.count(MARKET_GAP) >= 4 and MARKET_POOL_UPDATE in kinds

    wait_until(two_gaps_each_way, timeout=120, what="reconnects")
    c = seg.control
    assert c.load("feeder_gaps") >= 4
    assert c.load("feeder_decode_errors") > 0, "malformed frames are counted"
    assert feeder.poll() is None, "bad frames and drops never kill the feeder"
    c.store("run_state", 1)
    rc, _, err = finish(feeder, timeout=60)
    assert rc == 0, err
    seg.remove()


def test_check_config_names_the_bad_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[feeder]\nendpoints = [{ ws = "ws://127.0.0.1:1", rpc = "http://127.0.0.1:2", x = 1 }]\n'
    )
    r = subprocess.run([str(executable("phantom-feeder")), "--config", str(bad), "--check-config"],
                       capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 1 and 'feeder.endpoints[0].x: unknown field "x"' in r.stderr
