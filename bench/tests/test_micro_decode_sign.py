"""pytest-benchmark micro-benchmarks of the Rust hot paths, run in Rust through the
micro-benchmark bindings (``bench/micro/src/lib.rs``, the module ``phantom_bench._micro``):
each account decoder over a real mainnet snapshot (``tests/fixtures``), the PubSub
``accountNotification`` path (frame parse + base64 decode), and route-template patch + sign
with each signer.

Each round is one call doing ``ITERATIONS`` operations inside Rust with the GIL released;
``extra_info["ns_per_op"]`` is the mean per operation. Run with ``make bench`` (``pytest bench
--benchmark-only``); compare runs with ``--benchmark-autosave`` / ``--benchmark-compare``.
Under ``--benchmark-disable`` (``make test``) each runs once.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from phantom_bench import _micro

FIXTURES = Path(__file__).resolve().parent.parent.parent / "tests" / "fixtures"
ITERATIONS = 1000
MASK = (1 << 64) - 1
FOLD = 0x0000_0100_0000_01B3  # the checksum fold of micro.rs

# Kind -> snapshot it decodes. The token kinds read the USDC vault of the Raydium v4 pool.
SNAPSHOTS = {
    "token_amount": "spl_token_account-HLmqeL62.json",
    "token_account": "spl_token_account-HLmqeL62.json",
    "raydium_amm_v4": "raydium_amm_v4-58oQChx4.json",
    "raydium_cpmm": "raydium_cpmm-2higKRf2.json",
    "orca_whirlpool": "orca_whirlpool-Czfq3xZZ.json",
}


def _snapshot(name: str) -> dict[str, Any]:
    snap: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return snap


def _data(name: str) -> bytes:
    snap = _snapshot(name)
    data = base64.b64decode(snap["data_base64"])
    assert len(data) == snap["data_len"]
    return data


def account_notification(snap: dict[str, Any], subscription: int = 7001) -> bytes:
    """The frame a node sends for ``snap``, as ``feeder/sim/src/pubsub.rs::account_notification``
    writes it."""
    return (
        '{"jsonrpc":"2.0","method":"accountNotification","params":{"result":{"context":'
        f'{{"slot":{snap["slot"]}}},"value":{{"lamports":{snap["lamports"]},"data":["'
        f'{snap["data_base64"]}","base64"],"owner":"{snap["owner"]}","executable":false,'
        f'"rentEpoch":18446744073709551615,"space":{snap["data_len"]}}}}},'
        f'"subscription":{subscription}}}}}'
    ).encode()


def fold(values: list[int]) -> int:
    """The checksum ``micro_decode`` returns for per-iteration values ``values``."""
    acc = 0
    for i, x in enumerate(values):
        acc = (acc * FOLD + (x ^ i)) & MASK
    return acc


def _u64(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 8], "little")


def _per_op(benchmark: Any, n: int) -> None:
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["ns_per_op"] = round(benchmark.stats.stats.mean / n * 1e9, 1)
        benchmark.extra_info["ops_per_round"] = n


@pytest.mark.parametrize("kind", list(SNAPSHOTS))
def test_decode_x1000(benchmark, kind: str) -> None:  # type: ignore[no-untyped-def]
    data = _data(SNAPSHOTS[kind])
    expected = _micro.micro_decode(kind, data, ITERATIONS)
    assert expected != 0
    assert benchmark(_micro.micro_decode, kind, data, ITERATIONS) == expected
    _per_op(benchmark, ITERATIONS)
    # Where the value folded is a plain field, check it against the published layout.
    if kind == "token_amount":
        assert expected == fold([_u64(data, 64)] * ITERATIONS)  # Account.amount
    elif kind == "raydium_amm_v4":
        pc = _u64(data, 200)  # status ^ need_take_pnl_coin ^ rotl(need_take_pnl_pc, 1)
        rotl = ((pc << 1) | (pc >> 63)) & MASK
        assert expected == fold([_u64(data, 0) ^ _u64(data, 192) ^ rotl] * ITERATIONS)


def test_pubsub_account_notification_x1000(benchmark) -> None:  # type: ignore[no-untyped-def]
    snap = _snapshot("spl_token_account-HLmqeL62.json")
    frame = account_notification(snap, subscription=7001)
    data = base64.b64decode(snap["data_base64"])
    expected = fold(
        [snap["slot"] ^ snap["lamports"] ^ 7001 ^ len(data) ^ _u64(data, 0)] * ITERATIONS
    )
    assert benchmark(_micro.micro_decode, "pubsub_frame", frame, ITERATIONS) == expected
    _per_op(benchmark, ITERATIONS)


def test_patch_sign_rfc8032_x1000(benchmark) -> None:  # type: ignore[no-untyped-def]
    signer = _micro.MicroSigner(precomputed=False)
    expected = signer.run(ITERATIONS)
    assert expected != 0
    # RFC 8032 is deterministic: every round signs the same messages into the same bytes.
    assert benchmark(signer.run, ITERATIONS) == expected
    _per_op(benchmark, ITERATIONS)
    benchmark.extra_info["wire_bytes"] = signer.wire_len
    assert signer.signatures[0] == 0


def test_patch_sign_precomputed_x1000(benchmark) -> None:  # type: ignore[no-untyped-def]
    signer = _micro.MicroSigner(precomputed=True, pool_size=ITERATIONS)

    def fill_pool() -> None:
        # Untimed: the nonce thread fills the pool between rounds, as it does between trades.
        assert signer.prepare(ITERATIONS, timeout_s=120.0) == ITERATIONS

    rounds = 1 if benchmark.disabled else 30
    checksum = benchmark.pedantic(
        signer.run, args=(ITERATIONS,), setup=fill_pool, rounds=rounds, warmup_rounds=0
    )
    assert checksum != 0
    _per_op(benchmark, ITERATIONS)
    benchmark.extra_info["wire_bytes"] = signer.wire_len
    precomputed, fallbacks = signer.signatures
    assert precomputed == rounds * ITERATIONS and fallbacks == 0
