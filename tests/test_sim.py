"""The simulator seen by an independent Solana implementation: `solders` parses every
JSON-RPC response and PubSub frame it sends (protocol exactness), over a real
`phantom-sim` process, an HTTP client and a WebSocket client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    AccountNotification,
    GetLatestBlockhashResp,
    GetMultipleAccountsResp,
    SlotNotification,
    SubscriptionResult,
    parse_websocket_message,
)

from conftest import Procs
from phantom_pipeline.binaries import executable


@pytest.fixture
def sim(procs: Procs) -> Iterator[dict[str, Any]]:
    p = procs.start([str(executable("phantom-sim")), "--port", "0", "--rate", "3000",
                     "--slot-ms", "50"])  # fmt: skip
    assert p.stdout is not None
    yield json.loads(p.stdout.readline())
    p.kill()


def post(url: str, body: Any) -> str:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read().decode()  # type: ignore[no-any-return]


def test_json_rpc_responses_parse_with_solders(sim: dict[str, Any]) -> None:
    keys = [sim["pools"][0]["address"], *sim["pools"][0]["vaults"], sim["pools"][1]["address"]]
    text = post(sim["rpc"], {"jsonrpc": "2.0", "id": 1, "method": "getMultipleAccounts",
                             "params": [keys, {"encoding": "base64"}]})  # fmt: skip
    resp = GetMultipleAccountsResp.from_json(text)
    accounts = resp.value
    assert [len(a.data) for a in accounts if a is not None] == [752, 165, 165, 653]
    assert accounts[0] is not None
    assert accounts[0].owner == Pubkey.from_string("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8")
    assert accounts[3] is not None
    assert accounts[3].owner == Pubkey.from_string("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")
    bh = GetLatestBlockhashResp.from_json(
        post(sim["rpc"], {"jsonrpc": "2.0", "id": 2, "method": "getLatestBlockhash"})
    )
    assert bh.value.last_valid_block_height > 0


def test_pubsub_frames_parse_with_solders(sim: dict[str, Any]) -> None:
    vault = sim["pools"][0]["vaults"][0]
    whirlpool = sim["pools"][1]["address"]

    async def run() -> tuple[int, int, int, int]:
        async with websockets.connect(sim["ws"], max_size=None) as ws:
            for i, (method, params) in enumerate([
                ("accountSubscribe", [vault, {"encoding": "base64", "commitment": "processed"}]),
                ("accountSubscribe", [whirlpool, {"encoding": "base64"}]),
                ("slotSubscribe", []),
            ]):  # fmt: skip
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": method,
                                          "params": params}))  # fmt: skip
            subs = accounts = pools = slots = 0
            while subs < 3 or accounts < 5 or pools < 5 or slots < 3:
                raw = await asyncio.wait_for(ws.recv(), timeout=60)
                for msg in parse_websocket_message(raw):
                    if isinstance(msg, SubscriptionResult):
                        subs += 1
                    elif isinstance(msg, AccountNotification):
                        data = msg.result.value.data
                        if len(data) == 165:
                            accounts += 1
                        elif len(data) == 653:
                            pools += 1
                    elif isinstance(msg, SlotNotification):
                        slots += 1
            return subs, accounts, pools, slots

    subs, accounts, pools, slots = asyncio.run(run())
    assert subs == 3 and accounts >= 5 and pools >= 5 and slots >= 3


def test_sim_cli_refuses_a_taken_port(sim: dict[str, Any]) -> None:
    port = sim["rpc"].rsplit(":", 1)[1]
    r = subprocess.run([str(executable("phantom-sim")), "--port", port], capture_output=True,
                       text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 1 and f"bind 127.0.0.1:{port}" in r.stderr


def test_a_config_sets_the_pools_served(procs: Procs, tmp_path: Any) -> None:
    """`--config` serves an instance config's [[pools]] at its addresses, built from the real
    snapshots, with the vault addresses written into the pool data; a feeder config's other
    keys are ignored, a bad kind is refused by name."""
    import os

    from solders.pubkey import Pubkey

    addr = [str(Pubkey(os.urandom(32))) for _ in range(4)]
    cfg = tmp_path / "pools.toml"
    cfg.write_text(
        "[feeder]\nendpoints = []\n"
        f'[[pools]]\nname = "one"\nkind = "raydium_cpmm"\naddress = "{addr[0]}"\n'
        f'vaults = ["{addr[1]}", "{addr[2]}"]\nfee_numerator = 2500\nfee_denominator = 1000000\n'
        f'[[pools]]\nkind = "orca_whirlpool"\naddress = "{addr[3]}"\ndecimals = [9, 6]\n'
    )
    p = procs.start([str(executable("phantom-sim")), "--port", "0", "--config", str(cfg)])
    assert p.stdout is not None
    ready = json.loads(p.stdout.readline())
    first = ready["pools"][0]
    assert (first["name"], first["kind"], first["address"]) == (
        "one",
        "raydium_cpmm",
        addr[0],
    )
    assert ready["pools"][0]["vaults"] == addr[1:3]
    body = {"jsonrpc": "2.0", "id": 1, "method": "getMultipleAccounts",
            "params": [addr, {"encoding": "base64"}]}  # fmt: skip
    resp = GetMultipleAccountsResp.from_json(post(ready["rpc"], body))
    accounts = resp.value
    assert all(a is not None for a in accounts)
    pool = bytes(accounts[0].data)  # type: ignore[union-attr]
    assert pool[72:104] == bytes(Pubkey.from_string(addr[1]))
    assert pool[104:136] == bytes(Pubkey.from_string(addr[2]))
    assert len(bytes(accounts[3].data)) == 653  # type: ignore[union-attr]
    p.kill()
    cfg.write_text('[[pools]]\nkind = "serum"\naddress = "11111111111111111111111111111111"\n')
    r = subprocess.run([str(executable("phantom-sim")), "--port", "0", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 1 and 'pools[0].kind: unknown kind "serum"' in r.stderr
