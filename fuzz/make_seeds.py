#!/usr/bin/env python3
"""Regenerate the checked-in seed corpora in ``fuzz/seeds/<target>/`` (deterministic).

Seeds come from the real mainnet account snapshots in ``tests/fixtures`` (raw account bytes
for the decoder targets) and from PubSub frames exactly as the simulator writes them
(``feeder/sim/src/pubsub.rs::account_notification`` / ``slot_notification``), plus the odd frames a
node or a broken peer sends. Run from anywhere: ``python3 fuzz/make_seeds.py``.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SEEDS = ROOT / "fuzz" / "seeds"

# Account index -> (fixture file) in the engine_frame harness config
# (phantom_feeder::fuzz_targets::ENGINE_CONFIG); subscription id = 1000 + index.
ENGINE_ACCOUNTS = [
    "raydium_amm_v4-58oQChx4.json",
    "spl_token_account-DQyrAcCr.json",
    "spl_token_account-HLmqeL62.json",
    "orca_whirlpool-Czfq3xZZ.json",
    "raydium_cpmm-2higKRf2.json",
    "spl_token_account-47KLLXNK.json",
    "spl_token_2022_account-5Ap19VZW.json",
]


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def data(fx: dict) -> bytes:
    return base64.b64decode(fx["data_base64"])


def account_notification(sub: int, slot: int, lamports: int, raw: bytes, owner: str) -> str:
    """The simulator's frame, byte for byte (feeder/sim/src/pubsub.rs)."""
    b64 = base64.b64encode(raw).decode()
    return (
        f'{{"jsonrpc":"2.0","method":"accountNotification","params":{{"result":{{"context":'
        f'{{"slot":{slot}}},"value":{{"lamports":{lamports},"data":["{b64}","base64"],'
        f'"owner":"{owner}","executable":false,"rentEpoch":18446744073709551615,'
        f'"space":{len(raw)}}}}},"subscription":{sub}}}}}'
    )


def slot_notification(sub: int, slot: int) -> str:
    return (
        f'{{"jsonrpc":"2.0","method":"slotNotification","params":{{"result":{{"parent":'
        f'{max(slot - 1, 0)},"root":{max(slot - 32, 0)},"slot":{slot}}},"subscription":{sub}}}}}'
    )


def frame_of(name: str, sub: int, slot: int | None = None, raw: bytes | None = None) -> str:
    fx = fixture(name)
    return account_notification(
        sub,
        slot if slot is not None else fx.get("slot") or 446605268,
        fx.get("lamports") or 2039280,
        raw if raw is not None else data(fx),
        fx["owner"],
    )


def write(target: str, name: str, content: bytes | str) -> None:
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(content.encode() if isinstance(content, str) else content)


def odd_frames() -> dict[str, str]:
    node = {  # As a Solana node sends it (extra keys, other key order).
        "jsonrpc": "2.0",
        "method": "accountNotification",
        "params": {
            "result": {
                "context": {"slot": 5208469, "apiVersion": "2.1.0"},
                "value": {
                    "data": ["AQID", "base64"],
                    "executable": False,
                    "lamports": 33594,
                    "owner": "11111111111111111111111111111111",
                    "rentEpoch": 635,
                    "space": 3,
                },
            },
            "subscription": 23784,
        },
    }
    parsed = json.loads(json.dumps(node))
    parsed["params"]["result"]["value"]["data"] = {"parsed": {"info": {}}, "program": "spl-token"}
    b58 = json.loads(json.dumps(node))
    b58["params"]["result"]["value"]["data"] = "3yZe7d"
    return {
        "node_account": json.dumps(node),
        "json_parsed": json.dumps(parsed),
        "base58_bare": json.dumps(b58),
        "escaped": '{"method":"accountNotification","params":{"result":{"context":{"slot":1},'
        '"value":{"data":["AQ\\u003d\\u003d","base64"],"lamports":0,"owner":"x"}},'
        '"subscription":1}}',
        "subscribed": '{"jsonrpc":"2.0","result":23784,"id":7}',
        "unsubscribed": '{"jsonrpc":"2.0","result":true,"id":8}',
        "error": '{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid param: WrongSize",'
        '"data":null},"id":3}',
        "error_null_id": '{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},'
        '"id":null}',
        "slot": slot_notification(2, 446605269),
        "sim_malformed": '{"jsonrpc":"2.0","method":"accountNotif',
        "unknown_method": '{"jsonrpc":"2.0","method":"rootNotification","params":{"result":5,'
        '"subscription":3}}',
    }


def main() -> None:
    shutil.rmtree(SEEDS, ignore_errors=True)
    names = sorted(p.name for p in FIXTURES.glob("*.json"))
    for name in names:
        fx = fixture(name)
        raw = data(fx)
        stem = name.removesuffix(".json")
        write("pubsub_frame", stem, frame_of(name, 23784))
        kind = fx["kind"]
        if kind.startswith("spl_token"):
            write("token_account", stem, raw)
        elif kind == "raydium_amm_v4":
            write("amm_v4", stem, raw)
        elif kind == "raydium_cpmm":
            write("cpmm", stem, raw)
        elif kind == "orca_whirlpool":
            write("whirlpool", stem, raw)
    for name, text in odd_frames().items():
        write("pubsub_frame", name, text)
    # A Token-2022 account with extensions: account type 2 then a TLV (ImmutableOwner, empty).
    t22 = data(fixture("spl_token_2022_account-5Ap19VZW.json"))
    write("token_account", "token_2022_with_extension", t22 + bytes([2, 7, 0, 0, 0]))
    write("token_account", "multisig_len", t22 + bytes(355 - 165))

    # engine_frame: newline-separated frames, fed alternately to endpoints 0 and 1.
    sub = [1000 + i for i in range(len(ENGINE_ACCOUNTS))]
    fr = [frame_of(n, sub[i]) for i, n in enumerate(ENGINE_ACCOUNTS)]
    amm, amm_a, amm_b, whirl, cpmm, cpmm_a, cpmm_b = fr
    engine = {
        # Pool account then both vaults (same slot): one publish per pool.
        "amm_v4_pool": [amm, amm_a, amm_b],
        "whirlpool": [whirl, slot_notification(5, 446605269)],
        "cpmm_pool": [cpmm, cpmm_a, cpmm_b],
        # Each copy arrives on both endpoints: the second is a duplicate.
        "duplicates": [amm, amm, amm_a, amm_a, amm_b, amm_b],
        "all_pools_then_slot": [*fr, slot_notification(5, 446605269)],
        "bad_lines": [
            amm,
            '{"jsonrpc":"2.0","method":"accountNotif',
            frame_of(ENGINE_ACCOUNTS[1], 999_999),  # unknown subscription
            frame_of(ENGINE_ACCOUNTS[1], sub[2]),  # right size, wrong account kind is fine
            frame_of(ENGINE_ACCOUNTS[0], sub[1]),  # a pool's bytes as a vault: wrong size
            "",
            amm_b,
        ],
        "resubscribe": ['{"jsonrpc":"2.0","result":77,"id":2}', frame_of(ENGINE_ACCOUNTS[1], 77)],
        "older_slot": [cpmm, frame_of(ENGINE_ACCOUNTS[5], sub[5], 446605268 - 5), cpmm_a, cpmm_b],
    }
    for name, lines in engine.items():
        write("engine_frame", name, "\n".join(lines))

    # keypair_json: the solana-keygen file format (64 numbers); the key is a throwaway.
    try:
        from nacl.signing import SigningKey

        seed = bytes(range(32))
        kp = seed + bytes(SigningKey(seed).verify_key)
        write("keypair_json", "valid", json.dumps(list(kp)))
        write("keypair_json", "mismatched_public_half", json.dumps(list(seed + bytes(32))))
    except ImportError:
        write("keypair_json", "numbers", json.dumps(list(range(64))))
    write("keypair_json", "spaced", "[ 1, 2 ,3 ]\n")
    write("keypair_json", "too_many", json.dumps([0] * 65))


if __name__ == "__main__":
    main()
