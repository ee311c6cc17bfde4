"""The real ``phantom-signer`` executable, checked by an independent Solana implementation.

Intents go in through the shared-memory ring as the strategy writes them; the dry-run
capture file comes out, and every transaction in it is parsed and verified by ``solders``
(signature, fee payer, account metas and writability, program ids, instruction data decoded
against layouts written here from each program's published interface). The SPL-transfer
route is executed in ``solders``' LiteSVM: balances move as asked, and a transaction signed
with a blockhash LiteSVM does not know (the dry-run placeholder) is rejected.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import struct
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.token.state import Mint, TokenAccount, TokenAccountState
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from conftest import Procs, finish, wait_until
from phantom_pipeline import _native
from phantom_pipeline.binaries import executable
from phantom_pipeline.control import Control
from phantom_pipeline.schema import ORDER_INTENT
from phantom_pipeline.segments import RingEnd, SegmentView, create_ring

C = _native.constants()
REASON: dict[str, int] = C["reject_reason"]
STATUS: dict[str, int] = C["exec_status"]

SPL_TOKEN = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
COMPUTE_BUDGET = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
RAYDIUM_V4 = Pubkey.from_string("675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8")
RAYDIUM_CPMM = Pubkey.from_string("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C")
WHIRLPOOL = Pubkey.from_string("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")
PLACEHOLDER_BLOCKHASH = Hash(b"phantom-dry-run-placeholder-hash")
MIN_SQRT_PRICE_X64 = 4_295_048_016


def addr(n: int) -> Pubkey:
    return Pubkey(bytes([n]) * 32)


def anchor(name: str) -> bytes:
    return hashlib.sha256(f"global:{name}".encode()).digest()[:8]


def write_keypair(path: Path) -> Keypair:
    kp = Keypair()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(list(bytes(kp)), f)
    return kp


V4 = {
    "amm": addr(10), "amm_authority": addr(11), "pool_coin_token_account": addr(14),
    "pool_pc_token_account": addr(15), "user_token_a": addr(2), "user_token_b": addr(3),
}  # fmt: skip
CPMM = {
    "authority": addr(30), "amm_config": addr(31), "pool_state": addr(32),
    "token_0_vault": addr(33), "token_1_vault": addr(34), "token_0_mint": addr(35),
    "token_1_mint": addr(36), "observation_state": addr(37),
    "user_token_a": addr(4), "user_token_b": addr(3),
}  # fmt: skip
WP = {
    "whirlpool": addr(40), "token_vault_a": addr(41), "token_vault_b": addr(42),
    "oracle": addr(43), "user_token_a": addr(4), "user_token_b": addr(2),
}  # fmt: skip
TICK_VARIANTS = [(-5632, [addr(44), addr(45), addr(46)]), (0, [addr(45), addr(46), addr(47)])]


def _accounts(table: dict[str, Pubkey]) -> str:
    return "\n".join(f'{k} = "{v}"' for k, v in table.items())


def config_text(signer: str, transfer: tuple[Pubkey, Pubkey]) -> str:
    variants = "\n".join(
        f"[[routes.legs.tick_array_variants]]\nstart_tick_index = {s}\n"
        f"tick_arrays = [{', '.join(repr(str(a)).replace(chr(39), chr(34)) for a in arrays)}]"
        for s, arrays in TICK_VARIANTS
    )
    return f"""
[[pools]]
name = "v4"
[[pools]]
name = "cpmm"
[[pools]]
name = "whirlpool"

[signer]
{signer}

[signer.limits]
max_intents_per_second = 100000
max_notional_per_minute_raw = 1000000000000
max_open_intents = 64
max_tick_age_ms = 60000
max_compute_unit_price_micro_lamports = 1000000
max_tip_lamports = 100000

[[routes]]
name = "v4"
compute_unit_limit = 200000
max_amount_in_raw = 5000000000
[[routes.legs]]
pool = 0
direction = "a_to_b"
program = "raydium_amm_v4"
[routes.legs.accounts]
{_accounts(V4)}

[[routes]]
name = "cpmm"
compute_unit_limit = 200000
max_amount_in_raw = 5000000000
[[routes.legs]]
pool = 1
direction = "b_to_a"
program = "raydium_cpmm"
[routes.legs.accounts]
{_accounts(CPMM)}

[[routes]]
name = "whirlpool"
compute_unit_limit = 200000
max_amount_in_raw = 5000000000
[[routes.legs]]
pool = 2
direction = "a_to_b"
program = "orca_whirlpool"
[routes.legs.accounts]
{_accounts(WP)}
{variants}

[[routes]]
name = "transfer"
compute_unit_limit = 10000
max_amount_in_raw = 1000000
[[routes.legs]]
program = "spl_transfer"
[routes.legs.accounts]
source = "{transfer[0]}"
destination = "{transfer[1]}"
"""


class Signer:
    """The instance's segments and one ``phantom-signer`` process."""

    def __init__(
        self, instance: str, seg_name: Callable[[str], str], procs: Procs, tmp: Path
    ) -> None:
        self.control = Control.create(instance)
        self.control.store("lease_epoch", 1)
        self.intents_view = create_ring(seg_name("intents"), "OrderIntent", 256)
        self.reports_view: SegmentView = create_ring(seg_name("reports"), "ExecReport", 1024)
        self.intents = RingEnd(self.intents_view, "producer")
        self.reports = RingEnd(self.reports_view, "consumer")
        self.procs = procs
        self.tmp = tmp
        self.capture = tmp / "capture.jsonl"
        self.seen: list[Any] = []

    def start(self, instance: str, config: str) -> None:
        path = self.tmp / "config.toml"
        path.write_text(config)
        check = self.procs.start(
            [str(executable("phantom-signer")), "--instance", instance, "--config", str(path),
             "--check-config"]
        )  # fmt: skip
        rc, _out, err = finish(check)
        assert rc == 0, err
        self.proc = self.procs.start(
            [str(executable("phantom-signer")), "--instance", instance, "--config", str(path)]
        )
        wait_until(lambda: self.control.load("signer_mode") != 0, what="signer start")

    def push(self, seq: int, route: int, amount: int, min_out: int = 0, variant: int = 0) -> None:
        rec = np.zeros(1, dtype=ORDER_INTENT)[0]
        now = _native.monotonic_ns()
        rec["seq"], rec["epoch"], rec["tick_seq"], rec["route_id"] = seq, 1, seq, route
        rec["amount_in"][0], rec["min_out"][0] = amount, min_out
        rec["cu_price_micro_lamports"] = 1234
        rec["tick_array_variant"] = variant
        for f in ("t_tick_recv_ns", "t_tick_pub_ns", "t_strategy_read_ns", "t_intent_ns"):
            rec[f] = now
        assert self.intents.push(rec)

    def decided(self, n: int) -> list[Any]:
        """Reads reports until intents 0..n have a final one (signed or rejected)."""

        def done() -> bool:
            while (r := self.reports.pop()) is not None:
                self.seen.append(r)
            final = {int(r["intent_seq"]) for r in self.seen
                     if r["status"] in (STATUS["SIGNED"], STATUS["REJECTED"])}  # fmt: skip
            return final >= set(range(n))

        wait_until(done, what=f"reports for {n} intents")
        return self.seen

    def stop(self) -> list[dict[str, Any]]:
        self.proc.send_signal(signal.SIGTERM)
        rc, _, err = finish(self.proc)
        assert rc == 0, err
        return [json.loads(line) for line in self.capture.read_text().splitlines()]


@pytest.fixture
def signer(
    instance: str, seg_name: Callable[[str], str], procs: Procs, tmp_path: Path
) -> Iterator[Signer]:
    yield Signer(instance, seg_name, procs, tmp_path)


def is_writable(msg: Any, i: int) -> bool:
    """Writability from the v0 header alone (no lookup tables in these routes)."""
    h = msg.header
    n = len(msg.account_keys)
    signed = h.num_required_signatures
    if i < signed:
        return i < signed - h.num_readonly_signed_accounts
    return i < n - h.num_readonly_unsigned_accounts


def check_ix(
    msg: Any, ix: Any, program: Pubkey, metas: list[tuple[Pubkey, bool]], data: bytes
) -> None:
    keys = msg.account_keys
    assert keys[ix.program_id_index] == program
    got = [(keys[a], is_writable(msg, a)) for a in bytes(ix.accounts)]
    assert got == metas
    assert bytes(ix.data) == data


def u64(v: int) -> bytes:
    return struct.pack("<Q", v)


def test_every_route_signs_a_transaction_solders_verifies_and_decodes(
    signer: Signer, instance: str
) -> None:
    kp = write_keypair(signer.tmp / "id.json")
    payer = kp.pubkey()
    src, dst = addr(60), addr(61)
    signer.start(instance, config_text(
        f'keypair_path = "{signer.tmp / "id.json"}"\ncapture_path = "{signer.capture}"',
        (src, dst),
    ))  # fmt: skip
    signer.push(0, 0, 1_000_001, 900_001)
    signer.push(1, 1, 2_000_003, 1_800_003)
    signer.push(2, 2, 3_000_005, 2_700_005, variant=1)
    signer.push(3, 3, 777)
    signer.push(4, 2, 10, 9, variant=7)  # no such tick-array variant
    reports = signer.decided(5)
    rejected = [r for r in reports if r["status"] == STATUS["REJECTED"]]
    assert [(int(r["intent_seq"]), int(r["reason"])) for r in rejected] == [
        (4, REASON["unsignable"])
    ]
    lines = signer.stop()
    assert [ln["intent_seq"] for ln in lines] == [0, 1, 2, 3]
    signed = {int(r["intent_seq"]): r for r in reports if r["status"] == STATUS["SIGNED"]}

    txs = {}
    for ln in lines:
        tx = VersionedTransaction.from_bytes(base64.b64decode(ln["tx"]))
        assert tx.verify_with_results() == [True]
        assert str(tx.signatures[0]) == ln["signature"]
        assert bytes(tx.signatures[0]) == bytes(signed[ln["intent_seq"]]["signature"])
        assert ln["t_signed_ns"] == int(signed[ln["intent_seq"]]["t_signed_ns"])
        assert (ln["epoch"], ln["tick_seq"], ln["route_id"]) == (
            1,
            ln["intent_seq"],
            ln["intent_seq"],
        )
        msg = tx.message
        assert msg.account_keys[0] == payer and msg.header.num_required_signatures == 1
        assert msg.recent_blockhash == PLACEHOLDER_BLOCKHASH
        check_ix(
            msg,
            msg.instructions[0],
            COMPUTE_BUDGET,
            [],
            bytes([2]) + struct.pack("<I", 10_000 if ln["route_id"] == 3 else 200_000),
        )
        check_ix(msg, msg.instructions[1], COMPUTE_BUDGET, [], bytes([3]) + u64(1234))
        assert len(msg.instructions) == 3
        txs[ln["route_id"]] = msg

    # raydium-amm `swap_base_in_v2`: tag 16, 8 accounts (token program, amm, authority,
    # coin vault, pc vault, user source, user destination, owner).
    v4 = txs[0]
    check_ix(v4, v4.instructions[2], RAYDIUM_V4, [
        (SPL_TOKEN, False), (V4["amm"], True), (V4["amm_authority"], False),
        (V4["pool_coin_token_account"], True), (V4["pool_pc_token_account"], True),
        (V4["user_token_a"], True), (V4["user_token_b"], True), (payer, True),
    ], bytes([16]) + u64(1_000_001) + u64(900_001))  # fmt: skip

    cpmm = txs[1]  # b_to_a: sells token 1 for token 0
    check_ix(cpmm, cpmm.instructions[2], RAYDIUM_CPMM, [
        (payer, True), (CPMM["authority"], False), (CPMM["amm_config"], False),
        (CPMM["pool_state"], True), (CPMM["user_token_b"], True), (CPMM["user_token_a"], True),
        (CPMM["token_1_vault"], True), (CPMM["token_0_vault"], True),
        (SPL_TOKEN, False), (SPL_TOKEN, False), (CPMM["token_1_mint"], False),
        (CPMM["token_0_mint"], False), (CPMM["observation_state"], True),
    ], anchor("swap_base_input") + u64(2_000_003) + u64(1_800_003))  # fmt: skip

    wp = txs[2]  # variant 1: the tick arrays starting at 0
    arrays = TICK_VARIANTS[1][1]
    check_ix(wp, wp.instructions[2], WHIRLPOOL, [
        (SPL_TOKEN, False), (payer, True), (WP["whirlpool"], True),
        (WP["user_token_a"], True), (WP["token_vault_a"], True),
        (WP["user_token_b"], True), (WP["token_vault_b"], True),
        (arrays[0], True), (arrays[1], True), (arrays[2], True), (WP["oracle"], True),
    ], anchor("swap") + u64(3_000_005) + u64(2_700_005)
       + MIN_SQRT_PRICE_X64.to_bytes(16, "little") + bytes([1, 1]))  # fmt: skip

    tr = txs[3]
    check_ix(tr, tr.instructions[2], SPL_TOKEN, [(src, True), (dst, True), (payer, True)],
             bytes([3]) + u64(777))  # fmt: skip

    # A cluster that never issued the placeholder blockhash refuses the transaction.
    svm = LiteSVM()
    svm.airdrop(payer, 10**9)
    tx3 = VersionedTransaction.from_bytes(base64.b64decode(lines[3]["tx"]))
    result = svm.send_transaction(tx3)
    assert isinstance(result, FailedTransactionMetadata)
    assert "BlockhashNotFound" in str(result.err())


class _Rpc(BaseHTTPRequestHandler):
    """getLatestBlockhash from a LiteSVM (the signer's blockhash source in the test)."""

    svm: LiteSVM

    def do_POST(self) -> None:
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if req["method"] == "getLatestBlockhash":
            result: Any = {"context": {"slot": 1},
                           "value": {"blockhash": str(self.svm.latest_blockhash()),
                                     "lastValidBlockHeight": 300}}  # fmt: skip
        else:
            result = "ok"
        body = json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_spl_transfer_route_executes_in_litesvm_and_moves_the_balances(
    signer: Signer, instance: str
) -> None:
    kp = write_keypair(signer.tmp / "id.json")
    payer = kp.pubkey()
    svm = LiteSVM()
    svm.airdrop(payer, 10**10)
    mint, src, dst, other = (
        Pubkey.new_unique(),
        Pubkey.new_unique(),
        Pubkey.new_unique(),
        Pubkey.new_unique(),
    )
    rent = svm.minimum_balance_for_rent_exemption(165)
    svm.set_account(mint, Account(svm.minimum_balance_for_rent_exemption(82),
                                  bytes(Mint(None, 10**9, 6, True, None)), SPL_TOKEN))  # fmt: skip
    for account, owner, amount in ((src, payer, 1_000_000), (dst, other, 5)):
        data = bytes(TokenAccount(mint, owner, amount, None, TokenAccountState.Initialized,
                                  None, 0, None))  # fmt: skip
        svm.set_account(account, Account(rent, data, SPL_TOKEN))

    handler = type("Rpc", (_Rpc,), {"svm": svm})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        signer.start(instance, config_text(
            f'keypair_path = "{signer.tmp / "id.json"}"\ncapture_path = "{signer.capture}"\n'
            f'rpc_endpoints = ["{url}"]\nblockhash_refresh_ms = 20\nblockhash_max_age_ms = 600000',
            (src, dst),
        ))  # fmt: skip
        # Until the first blockhash arrives, intents are refused: push until one is signed.
        seq = 0
        while True:
            signer.push(seq, 3, 250_000)
            reports = signer.decided(seq + 1)
            final = [r for r in reports if int(r["intent_seq"]) == seq
                     and r["status"] in (STATUS["SIGNED"], STATUS["REJECTED"])]  # fmt: skip
            if final[0]["status"] == STATUS["SIGNED"]:
                break
            assert int(final[0]["reason"]) == REASON["blockhash_too_old"]
            seq += 1
            assert seq < 10_000
        lines = signer.stop()
    finally:
        server.shutdown()
        server.server_close()
    assert len(lines) == 1
    tx = VersionedTransaction.from_bytes(base64.b64decode(lines[0]["tx"]))
    assert tx.message.recent_blockhash == svm.latest_blockhash()
    result = svm.send_transaction(tx)
    assert not isinstance(result, FailedTransactionMetadata), result
    balance = lambda a: TokenAccount.from_bytes(bytes(svm.get_account(a).data)).amount  # noqa: E731
    assert (balance(src), balance(dst)) == (750_000, 250_005)
    # The same transaction again is refused (already processed), balances unchanged.
    again = svm.send_transaction(tx)
    assert isinstance(again, FailedTransactionMetadata)
    assert (balance(src), balance(dst)) == (750_000, 250_005)


def test_rejections_are_counted_by_reason_name_in_the_control_block(
    signer: Signer, instance: str
) -> None:
    signer.start(instance, config_text(f'capture_path = "{signer.capture}"', (addr(60), addr(61))))
    signer.push(0, 3, 10)
    signer.push(1, 3, 0)  # zero_amount
    signer.push(2, 9, 10)  # unknown_route
    signer.push(3, 3, 2_000_000)  # amount_over_route_max
    signer.decided(4)
    signer.stop()
    reasons = signer.control.entry["signer_reject_reasons"]
    by_name = {name: int(reasons[code]) for name, code in REASON.items() if reasons[code]}
    assert by_name == {"zero_amount": 1, "unknown_route": 1, "amount_over_route_max": 1}
    assert signer.control.load("signer_rejected") == 3
    assert signer.control.load("signer_accepted") == 1
    assert signer.control.load("signer_signed") == 1
    assert bytes(signer.control.entry["signer_capture_path"]).rstrip(b"\0").decode() == str(
        signer.capture
    )
