"""``phantom-pipeline routes`` on ``examples/mainnet.toml``, against the simulator serving
those pools from the mainnet snapshots (``phantom-pipeline sim --config``).

The expected accounts are computed here independently of the signer's derivation: pool
fields read from the snapshot bytes at the programs' published offsets, PDAs and associated
token accounts with ``solders``, tick-array start indices with the Orca SDK's rule.
"""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address

from conftest import REPO, Procs
from phantom_pipeline.binaries import executable

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPL_TOKEN = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
V4 = Pubkey.from_string("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8")
WHIRLPOOL = Pubkey.from_string("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")


def snapshot(name: str) -> bytes:
    return base64.b64decode(json.loads((FIXTURES / name).read_text())["data_base64"])


def pk(data: bytes, off: int) -> Pubkey:
    return Pubkey(data[off : off + 32])


def tick_array_starts(tick: int, spacing: int, a_to_b: bool) -> list[int]:
    """Orca SDK ``SwapUtils.getTickArrayPublicKeys``: B→A starts from ``tick + spacing``."""
    per = 88 * spacing
    first = ((tick + (0 if a_to_b else spacing)) // per) * per
    return [first + k * (-per if a_to_b else per) for k in range(3)]


def served(rpc: str, address: str) -> bytes:
    """An account's data as the simulator serves it."""
    import urllib.request

    body = {"jsonrpc": "2.0", "id": 1, "method": "getMultipleAccounts",
            "params": [[address], {"encoding": "base64"}]}  # fmt: skip
    req = urllib.request.Request(rpc, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as r:
        value = json.loads(r.read())["result"]["value"][0]
    return base64.b64decode(value["data"][0])


def expected_leg(
    kind: str, a_to_b: bool, wallet: Pubkey, rpc: str
) -> list[tuple[str, Pubkey, bool, bool]]:
    """(program's account name, address, writable, signer), from the programs' public
    instruction definitions (raydium-amm `swap_base_in_v2`, Whirlpool `Swap`), with the
    pools' fields read at the programs' published offsets from the snapshots (the Whirlpool's
    current tick from the simulator, whose market is held still)."""
    if kind == "raydium_amm_v4":
        d = snapshot("raydium_amm_v4-58oQChx4.json")
        amm = Pubkey.from_string("58oQChx4yWmvKdwLLZzBi4ChoCc2fqCUWBkwMihLYQo2")
        nonce = struct.unpack_from("<Q", d, 8)[0]
        authority = Pubkey.create_program_address([b"amm authority", bytes([nonce])], V4)
        coin_vault, pc_vault, coin_mint, pc_mint = pk(d, 336), pk(d, 368), pk(d, 400), pk(d, 432)
        coin = get_associated_token_address(wallet, coin_mint)
        pc = get_associated_token_address(wallet, pc_mint)
        src, dst = (coin, pc) if a_to_b else (pc, coin)
        return [("token_program", SPL_TOKEN, False, False), ("amm", amm, True, False),
                ("amm_authority", authority, False, False),
                ("amm_coin_vault", coin_vault, True, False),
                ("amm_pc_vault", pc_vault, True, False),
                ("user_token_source", src, True, False),
                ("user_token_destination", dst, True, False),
                ("user_source_owner", wallet, False, True)]  # fmt: skip
    d = snapshot("orca_whirlpool-Czfq3xZZ.json")
    pool = Pubkey.from_string("Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE")
    live = served(rpc, str(pool))
    assert live[:81] == d[:81] and live[101:245] == d[101:245]
    d = live
    spacing, tick = struct.unpack_from("<H", d, 41)[0], struct.unpack_from("<i", d, 81)[0]
    arrays = [Pubkey.find_program_address([b"tick_array", bytes(pool), str(s).encode()],
                                          WHIRLPOOL)[0]
              for s in tick_array_starts(tick, spacing, a_to_b)]  # fmt: skip
    oracle = Pubkey.find_program_address([b"oracle", bytes(pool)], WHIRLPOOL)[0]
    return [("token_program", SPL_TOKEN, False, False), ("token_authority", wallet, False, True),
            ("whirlpool", pool, True, False),
            ("token_owner_account_a", get_associated_token_address(wallet, pk(d, 101)), True,
             False),
            ("token_vault_a", pk(d, 133), True, False),
            ("token_owner_account_b", get_associated_token_address(wallet, pk(d, 181)), True,
             False),
            ("token_vault_b", pk(d, 213), True, False),
            *((f"tick_array_{k}", a, True, False) for k, a in enumerate(arrays)),
            ("oracle", oracle, True, False)]  # fmt: skip


def mainnet_config(tmp: Path, rpc: str, key: Path) -> Path:
    text = (REPO / "examples" / "mainnet.toml").read_text()
    text = text.replace("https://YOUR-RPC-PROVIDER.example/?api-key=REPLACE", rpc)
    text = text.replace("/home/trader/.config/solana/trading-key.json", str(key))
    path = tmp / "mainnet.toml"
    path.write_text(text)
    return path


def routes(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phantom_pipeline.cli", "routes", *args],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_routes_of_the_mainnet_example_are_derived_from_the_served_pools(
    procs: Procs, tmp_path: Path
) -> None:
    key = tmp_path / "key.json"
    r = subprocess.run([str(executable("phantom-signer")), "--generate-keypair", str(key)],
                       capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    wallet = Pubkey.from_string(r.stdout.split()[5])
    # The market is held (--start-on-stdin): the served pools stay as built.
    sim = procs.start([sys.executable, "-m", "phantom_pipeline.cli", "sim", "--port", "0",
                       "--config", str(REPO / "examples" / "mainnet.toml"),
                       "--start-on-stdin"], stdin=subprocess.PIPE)  # fmt: skip
    assert sim.stdout is not None
    ready = json.loads(sim.stdout.readline())
    cfg = mainnet_config(tmp_path, ready["rpc"], key)

    out = routes("--config", str(cfg), "--json")
    assert out.returncode == 0, out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    assert report["wallet"] == str(wallet)
    legs = [(leg, r) for r in report["routes"] for leg in r["legs"]]
    assert [(leg["pool"], leg["direction"]) for leg, _ in legs] == [
        (0, "a_to_b"), (1, "b_to_a"), (1, "a_to_b"), (0, "b_to_a")]  # fmt: skip
    for leg, _ in legs:
        want = expected_leg(leg["program"], leg["direction"] == "a_to_b", wallet, ready["rpc"])
        got = [(a["name"], Pubkey.from_string(a["address"]), a["writable"], a["signer"])
               for a in leg["accounts"]]  # fmt: skip
        assert got == want, leg["program"]
        assert [a["index"] for a in leg["accounts"]] == list(range(len(want)))
        for a in leg["accounts"]:
            assert a["source"].split(":")[0] in ("pool", "pda", "ata", "config"), a
            if a["name"].startswith(("user_token_", "token_owner_account_")):
                assert a["source"].startswith(f"ata:{wallet},"), a
            if a["name"].startswith("tick_array_") or a["name"] in ("oracle", "amm_authority"):
                assert a["source"].startswith("pda:"), a
            if a["name"].endswith(("_vault", "vault_a", "vault_b")):
                assert a["source"].startswith("pool:"), a
    # The simulator holds no token accounts of this fresh wallet: every route lists them as
    # missing, with the command that creates each; --check fails on it.
    for r_ in report["routes"]:
        assert r_["overrides"] == []
        assert {m["mint"] for m in r_["missing"]} == {
            "So11111111111111111111111111111111111111112",
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        }
        for m in r_["missing"]:
            assert m["create"] == f"spl-token create-account {m['mint']} --owner {wallet}"
    checked = routes("--config", str(cfg), "--check")
    assert checked.returncode == 1
    assert "spl-token create-account So11111111111111111111111111111111111111112" in (
        checked.stderr
    )

    # A hand-written account wins, is reported with source "config", and fails --check.
    text = cfg.read_text().replace(
        'pool = 0\ndirection = "a_to_b"\n',
        'pool = 0\ndirection = "a_to_b"\naccounts = { amm_authority = '
        '"11111111111111111111111111111111" }\n',
    )
    cfg.write_text(text)
    out = routes("--config", str(cfg), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    first = report["routes"][0]
    authority = next(a for a in first["legs"][0]["accounts"] if a["name"] == "amm_authority")
    assert (authority["address"], authority["source"]) == (
        "11111111111111111111111111111111", "config")  # fmt: skip
    assert [o["name"] for o in first["overrides"]] == ["amm_authority"]
    want = expected_leg("raydium_amm_v4", True, wallet, ready["rpc"])
    assert first["overrides"][0]["derived"] == str(want[2][1])
    checked = routes("--config", str(cfg), "--check")
    assert checked.returncode == 1 and "amm_authority is hand-written" in checked.stderr
    sim.kill()


def test_routes_names_an_unreachable_rpc(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    subprocess.run([str(executable("phantom-signer")), "--generate-keypair", str(key)],
                   capture_output=True, timeout=60, check=True)  # fmt: skip
    cfg = mainnet_config(tmp_path, "http://127.0.0.1:9", key)
    out = routes("--config", str(cfg), "--json")
    assert out.returncode == 2
    assert "127.0.0.1:9" in out.stderr
