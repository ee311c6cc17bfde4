"""The embedded default: what ``phantom-pipeline start`` runs with no ``--config``.

A market simulator (``phantom-sim``) on free local ports, the feeder subscribed to its four
pools, the built-in two-pool arbitrage strategy trading the two Raydium CPMM pools of the
WSOL/pump pair (both directions), and the signer in dry-run with a throwaway key (made by
``phantom-signer --generate-keypair``, mode 0600, in the instance's private run directory),
its blockhash refreshed from the simulator's JSON-RPC.

The route accounts come from the pool account itself (its config, vaults, mints, token
programs and observation account, at the offsets of Raydium CPMM's ``PoolState``) and the
pool authority is derived as the program derives it, so the dry-run transactions are the
ones a live run would send; only the trader's own token accounts (``user_token_a/b``) are
placeholders, as a throwaway key has none.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

from phantom_pipeline.constants import PROGRAM_IDS

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
RAYDIUM_CPMM = PROGRAM_IDS["RAYDIUM_CPMM"]


def b58encode(b: bytes) -> str:
    n = int.from_bytes(b, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(b) - len(b.lstrip(b"\0"))) + out


def b58decode(s: str) -> bytes:
    n = 0
    for c in s:
        n = n * 58 + B58.index(c)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(s) - len(s.lstrip("1"))) + raw


_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


def on_curve(b: bytes) -> bool:
    """Whether 32 bytes decode to a point of edwards25519 (PDAs must not)."""
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    if y >= _P:
        return False
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x2 = u * pow(v, _P - 2, _P) % _P
    if x2 == 0:
        return True
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    return (x * x - x2) % _P == 0


def find_program_address(seeds: list[bytes], program_id: bytes) -> tuple[bytes, int]:
    """Solana's ``find_program_address``: the first off-curve address from bump 255 down."""
    for bump in range(255, -1, -1):
        h = hashlib.sha256(
            b"".join(seeds) + bytes([bump]) + program_id + b"ProgramDerivedAddress"
        ).digest()
        if not on_curve(h):
            return h, bump
    raise ValueError("no program address found")


def placeholder_address(tag: str) -> str:
    """A deterministic off-curve address standing for an account the throwaway key lacks."""
    addr, _ = find_program_address([b"phantom-placeholder", tag.encode()], b"\x01" * 32)
    return b58encode(addr)


def fetch_account(rpc: str, address: str) -> bytes:
    body = {"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo",
            "params": [address, {"encoding": "base64"}]}  # fmt: skip
    req = urllib.request.Request(
        rpc, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        value = json.loads(r.read())["result"]["value"]
    return base64.b64decode(value["data"][0])


def cpmm_accounts(rpc: str, pool: str) -> dict[str, str]:
    """A CPMM swap leg's accounts, read from the pool's ``PoolState``."""
    d = fetch_account(rpc, pool)

    def at(off: int) -> str:
        return b58encode(d[off : off + 32])

    authority, _ = find_program_address([b"vault_and_lp_mint_auth_seed"], b58decode(RAYDIUM_CPMM))
    return {
        "authority": b58encode(authority),
        "amm_config": at(8),
        "pool_state": pool,
        "token_0_vault": at(72),
        "token_1_vault": at(104),
        "token_0_mint": at(168),
        "token_1_mint": at(200),
        "token_0_program": at(232),
        "token_1_program": at(264),
        "observation_state": at(296),
        "user_token_a": placeholder_address("user_token_a"),
        "user_token_b": placeholder_address("user_token_b"),
    }


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


DEFAULT_LIMITS: dict[str, int] = {
    "max_intents_per_second": 1000,
    "max_notional_per_minute_raw": 1_000_000_000_000_000,
    "max_open_intents": 1000,
    "max_tick_age_ms": 2000,
    "max_compute_unit_price_micro_lamports": 1_000_000,
    "max_tip_lamports": 1_000_000,
    # Dry-run commits no real lamports, but the budget is enforced as live would: room for
    # the embedded market's rate (about 5 300 lamports an intent).
    "max_lamports_per_minute": 1_000_000_000,
    "max_lamports_per_day": 100_000_000_000,
}


def keypair_pubkey(keypair: Path) -> str:
    """The public key (base58) of a Solana keypair JSON file (64 bytes: secret, public)."""
    raw = json.loads(keypair.read_text())
    if not isinstance(raw, list) or len(raw) != 64:
        raise ValueError(f"{keypair}: not a Solana keypair file (64 numbers)")
    return b58encode(bytes(raw[32:]))


def funding_args(keypair: Path) -> list[str]:
    """``phantom-sim`` arguments that fund the key's wallet: lamports and a token account
    per mint at its associated token account addresses (``--fund-wallet``), and the token
    accounts the routes name in place of the trader's (``user_token_a/b``), so the embedded
    default's transactions can execute."""
    args = ["--fund-wallet", keypair_pubkey(keypair)]
    for side in ("a", "b"):
        # The CPMM pools' token a / b mint, as the simulator's world has it.
        args += [
            "--fund-token-account",
            f"{placeholder_address('user_token_' + side)}:raydium_cpmm.{side}",
        ]
    return args


def default_config(
    sim: dict[str, Any],
    run_dir: Path,
    keypair: Path,
    *,
    wait: str | None = None,
    limits: dict[str, int] | None = None,
    mode: str = "dry-run",
) -> str:
    """The embedded default's config for a running simulator (its ready line ``sim``).
    ``wait`` sets the wait strategy of all three processes; ``limits`` overrides signer
    limits (the benchmark lifts them so that every opportunity is signed); ``mode`` is the
    signer's (``"dry-run"`` or ``"preflight"``)."""
    pools = sim["pools"]
    waits = [f'wait = "{wait}"'] if wait else []
    lim = {**DEFAULT_LIMITS, **(limits or {})}
    cpmm = [i for i, p in enumerate(pools) if p["kind"] == "raydium_cpmm"][:2]
    lines = [
        "# Generated by phantom-pipeline start (the embedded default): a simulator market,",
        "# the two-pool arbitrage strategy, the signer in dry-run with a throwaway key.",
        "[strategy]",
        'name = "phantom_pipeline.strategies.arb:TwoPoolArb"',
        "params = { min_profit = 1, slippage_bps = 20, cu_price_micro_lamports = 1000 }",
        *waits,
        "",
        "[feeder]",
        f"endpoints = [{{ ws = {json.dumps(sim['ws'])}, rpc = {json.dumps(sim['rpc'])} }}]",
        "read_timeout_ms = 20000",
        *waits,
        "",
        "[signer]",
        f"mode = {json.dumps(mode)}",
        f"keypair_path = {json.dumps(str(keypair))}",
        f"rpc_endpoints = [{json.dumps(sim['rpc'])}]",
        f"capture_path = {json.dumps(str(run_dir / 'capture.jsonl'))}",
        *waits,
        "",
        "[signer.limits]",
        *(f"{k} = {v}" for k, v in lim.items()),
    ]
    for p in pools:
        lines += [
            "",
            "[[pools]]",
            f"name = {json.dumps(p['name'])}",
            f"kind = {json.dumps(p['kind'])}",
            f"address = {json.dumps(p['address'])}",
        ]
        if p["kind"] == "orca_whirlpool":
            lines.append("decimals = [9, 6]")
        else:
            lines.append(f"vaults = {_toml_value(p['vaults'])}")
        if p["kind"] == "raydium_cpmm":
            lines += ["fee_numerator = 2500", "fee_denominator = 1000000"]
    if len(cpmm) == 2:
        accounts = {i: cpmm_accounts(sim["rpc"], pools[i]["address"]) for i in cpmm}
        for first, second in (cpmm, cpmm[::-1]):
            lines += ["", "[[routes]]", f'name = "cpmm {first} -> {second}"',
                      "compute_unit_limit = 300000",
                      "max_amount_in_raw = 1000000000000"]  # fmt: skip
            for pool, direction in ((first, "a_to_b"), (second, "b_to_a")):
                lines += ["[[routes.legs]]", f"pool = {pool}", f'direction = "{direction}"',
                          'program = "raydium_cpmm"', "[routes.legs.accounts]"]  # fmt: skip
                lines += [f"{k} = {json.dumps(v)}" for k, v in accounts[pool].items()]
    return "\n".join(lines) + "\n"
