"""Legs given only by pool and direction, signed by the real ``phantom-signer`` and executed
on the real program binaries (``../shared/programs``) in ``solders``' LiteSVM.

The signer derives every account from a JSON-RPC served here out of the LiteSVM's own
accounts (the mainnet pool snapshots, their vaults, the programs' config accounts built with
the programs' published layouts). The expected addresses are computed here with ``solders``
(associated token accounts, program-derived addresses), independently of the signer's
derivation; tick-array start indices follow the Orca SDK's rule, written out here.

Whirlpool legs are executed in both directions, then again after a swap has moved the price
into the next tick array (the signer follows the tick it reads in the pools table); a
transaction signed for the old tick arrays fails there, which shows the check can fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from solders.account import Account
from solders.clock import Clock
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address
from solders.token.state import Mint, TokenAccount, TokenAccountState
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata
from test_signer import REASON, STATUS, Signer, write_keypair

from conftest import Procs
from phantom_pipeline.schema import POOL_STATE
from phantom_pipeline.segments import TableView, create_table

ROOT = Path(__file__).resolve().parent
PROGRAMS = ROOT.parent.parent / "shared" / "programs"
FIXTURES = ROOT / "fixtures"
SPL_TOKEN = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022 = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
CPMM = Pubkey.from_string("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C")
WHIRLPOOL = Pubkey.from_string("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")
NOW = 1_900_000_000  # a clock past every timestamp in the snapshots

pytestmark = pytest.mark.skipif(
    not (PROGRAMS / "whirlpool.so").exists() or not (PROGRAMS / "raydium_cp_swap.so").exists(),
    reason=f"program binaries not found in {PROGRAMS} (solana program dump, see its README)",
)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())  # type: ignore[no-any-return]


def fixture_data(name: str) -> bytes:
    return base64.b64decode(fixture(name)["data_base64"])


def anchor_account(name: str) -> bytes:
    return hashlib.sha256(f"account:{name}".encode()).digest()[:8]


def pk(data: bytes, off: int) -> Pubkey:
    return Pubkey(data[off : off + 32])


def token_account(svm: LiteSVM, mint: Pubkey, owner: Pubkey, amount: int,
                  program: Pubkey = SPL_TOKEN, native: bool = False) -> Account:  # fmt: skip
    rent = svm.minimum_balance_for_rent_exemption(165)
    data = bytes(TokenAccount(mint, owner, amount, None, TokenAccountState.Initialized,
                              rent if native else None, 0, None))  # fmt: skip
    return Account(rent + (amount if native else 0), data, program)


def mint_account(svm: LiteSVM, decimals: int, program: Pubkey = SPL_TOKEN) -> Account:
    data = bytes(Mint(None, 10**18, decimals, True, None))
    return Account(svm.minimum_balance_for_rent_exemption(82), data, program)


class _Rpc(BaseHTTPRequestHandler):
    """The JSON-RPC subset the signer uses, answered from a LiteSVM's accounts."""

    svm: LiteSVM
    lock: threading.Lock

    def do_POST(self) -> None:
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:  # LiteSVM is not to be used from two threads at once
            body = self.answer(req)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer(self, req: dict[str, Any]) -> bytes:
        method, params = req["method"], req.get("params", [])
        result: Any
        if method == "getLatestBlockhash":
            result = {"context": {"slot": 1},
                      "value": {"blockhash": str(self.svm.latest_blockhash()),
                                "lastValidBlockHeight": 300}}  # fmt: skip
        elif method == "getMultipleAccounts":
            values = []
            for key in params[0]:
                a = self.svm.get_account(Pubkey.from_string(key))
                if a is None or a.lamports == 0:
                    values.append(None)
                else:
                    values.append({"lamports": a.lamports, "owner": str(a.owner),
                                   "data": [base64.b64encode(bytes(a.data)).decode(), "base64"],
                                   "executable": a.executable, "rentEpoch": 0,
                                   "space": len(bytes(a.data))})  # fmt: skip
            result = {"context": {"slot": 1}, "value": values}
        else:
            result = "ok"
        return json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": result}).encode()

    def log_message(self, *args: Any) -> None:
        pass


class Market:
    """A LiteSVM holding the programs, the pools and a funded wallet, served over JSON-RPC."""

    def __init__(self, wallet: Pubkey) -> None:
        self.svm = LiteSVM()
        self.svm.add_program(WHIRLPOOL, (PROGRAMS / "whirlpool.so").read_bytes())
        self.svm.add_program(CPMM, (PROGRAMS / "raydium_cp_swap.so").read_bytes())
        clock = self.svm.get_clock()
        self.svm.set_clock(Clock(clock.slot, clock.epoch_start_timestamp, clock.epoch,
                                 clock.leader_schedule_epoch, NOW))  # fmt: skip
        self.svm.airdrop(wallet, 10**12)
        self.wallet = wallet
        self.lock = threading.Lock()
        handler = type("Rpc", (_Rpc,), {"svm": self.svm, "lock": self.lock})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def put(self, address: Pubkey, account: Account) -> None:
        with self.lock:
            self.svm.set_account(address, account)

    def add_whirlpool(self) -> Pubkey:
        """The SOL/USDC Whirlpool snapshot, with deep vaults and the wallet's two ATAs."""
        snap = fixture("orca_whirlpool-Czfq3xZZ.json")
        data = base64.b64decode(snap["data_base64"])
        pool = Pubkey.from_string(snap["address"])
        self.put(pool, Account(snap["lamports"], data, WHIRLPOOL))
        mint_a, vault_a, mint_b, vault_b = (
            pk(data, 101),
            pk(data, 133),
            pk(data, 181),
            pk(data, 213),
        )
        self.put(mint_a, mint_account(self.svm, 9))
        self.put(mint_b, mint_account(self.svm, 6))
        self.put(vault_a, token_account(self.svm, mint_a, pool, 10**15, native=True))
        self.put(vault_b, token_account(self.svm, mint_b, pool, 10**15))
        for mint, native in ((mint_a, True), (mint_b, False)):
            ata = get_associated_token_address(self.wallet, mint)
            self.put(ata, token_account(self.svm, mint, self.wallet, 10**14, native=native))
        return pool

    def add_cpmm(self) -> Pubkey:
        """The WSOL/pump CPMM snapshot (pump is a Token-2022 mint), its real vaults, the AMM
        config and observation state built with raydium-cp-swap's layouts, the wallet's ATAs."""
        snap = fixture("raydium_cpmm-2higKRf2.json")
        data = base64.b64decode(snap["data_base64"])
        pool = Pubkey.from_string(snap["address"])
        self.put(pool, Account(snap["lamports"], data, CPMM))
        amm_config, mint0, mint1 = pk(data, 8), pk(data, 168), pk(data, 200)
        programs = (pk(data, 232), pk(data, 264))
        assert programs == (SPL_TOKEN, TOKEN_2022)
        observation = pk(data, 296)
        # AmmConfig: bump, disable_create_pool, index, trade/protocol/fund fee rates,
        # create_pool_fee, protocol_owner, fund_owner, padding [u64; 16].
        cfg = (anchor_account("AmmConfig") + struct.pack("<BBHQQQQ", 255, 0, 0, 2500, 120000,
               40000, 0) + bytes(32) + bytes(32) + bytes(128))  # fmt: skip
        self.put(amm_config, Account(self.svm.minimum_balance_for_rent_exemption(len(cfg)),
                                     cfg, CPMM))  # fmt: skip
        # ObservationState: initialized, observation_index, pool_id, 100 observations of
        # (u64, u128, u128), padding [u64; 4] (packed).
        obs = anchor_account("ObservationState") + b"\x01" + struct.pack("<H", 0) + bytes(pool)
        obs += bytes(100 * 40) + bytes(32)
        self.put(observation, Account(self.svm.minimum_balance_for_rent_exemption(len(obs)),
                                      obs, CPMM))  # fmt: skip
        self.put(mint0, mint_account(self.svm, 9))
        self.put(mint1, mint_account(self.svm, 6, TOKEN_2022))
        for name in ("spl_token_account-47KLLXNK.json", "spl_token_2022_account-5Ap19VZW.json"):
            v = fixture(name)
            owner = Pubkey.from_string(v["owner"])
            vdata = base64.b64decode(v["data_base64"])
            lamports = v.get("lamports") or self.svm.minimum_balance_for_rent_exemption(165)
            self.put(Pubkey.from_string(v["address"]), Account(lamports, vdata, owner))
        for mint, program, native in ((mint0, SPL_TOKEN, True), (mint1, TOKEN_2022, False)):
            ata = get_associated_token_address(self.wallet, mint, program)
            self.put(ata, token_account(self.svm, mint, self.wallet, 10**13, program, native))
        return pool

    def balance(self, address: Pubkey) -> int:
        with self.lock:
            a = self.svm.get_account(address)
        assert a is not None
        return int(TokenAccount.from_bytes(bytes(a.data)[:165]).amount)

    def execute(self, tx_b64: str) -> FailedTransactionMetadata | None:
        tx = VersionedTransaction.from_bytes(base64.b64decode(tx_b64))
        with self.lock:
            result = self.svm.send_transaction(tx)
        return result if isinstance(result, FailedTransactionMetadata) else None


@pytest.fixture
def signer(
    instance: str, seg_name: Callable[[str], str], procs: Procs, tmp_path: Path
) -> Iterator[Signer]:
    yield Signer(instance, seg_name, procs, tmp_path)


@pytest.fixture
def market(signer: Signer) -> Iterator[Callable[[Pubkey], Market]]:
    made: list[Market] = []

    def make(wallet: Pubkey) -> Market:
        m = Market(wallet)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


def config(market: Market, signer: Signer, pool: Pubkey, kind: str) -> str:
    return f"""
[[pools]]
name = "pool"
kind = "{kind}"
address = "{pool}"

[signer]
keypair_path = "{signer.tmp / "id.json"}"
capture_path = "{signer.capture}"
rpc_endpoints = ["{market.url}"]
blockhash_refresh_ms = 20
blockhash_max_age_ms = 600000

[signer.limits]
max_intents_per_second = 100000
max_notional_per_minute_raw = 1000000000000000000
max_open_intents = 64
max_tick_age_ms = 600000
max_compute_unit_price_micro_lamports = 1000000
max_tip_lamports = 100000
max_lamports_per_minute = 1000000000
max_lamports_per_day = 100000000000

[[routes]]
name = "a_to_b"
compute_unit_limit = 400000
max_amount_in_raw = 1000000000000000000
[[routes.legs]]
pool = 0
direction = "a_to_b"

[[routes]]
name = "b_to_a"
compute_unit_limit = 400000
max_amount_in_raw = 1000000000000000000
[[routes.legs]]
pool = 0
direction = "b_to_a"
"""


class Session:
    """Pushes intents to a running signer and collects what it signed, one at a time."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self.seq = 0
        self.lines_read = 0

    def sign(self, route: int, amount: int, variant: int = 0) -> tuple[int, str | None]:
        """(status, tx): the intent's final status and its transaction when signed."""
        while True:
            seq = self.seq
            self.seq += 1
            self.signer.push(seq, route, amount, 1, variant)
            reports = self.signer.decided(self.seq)
            final = [r for r in reports if int(r["intent_seq"]) == seq
                     and r["status"] in (STATUS["SIGNED"], STATUS["REJECTED"])]  # fmt: skip
            status = int(final[0]["status"])
            if (
                status == STATUS["REJECTED"]
                and int(final[0]["reason"]) == REASON["blockhash_too_old"]
            ):
                assert self.seq < 10_000, "the signer never got a blockhash"
                continue
            if status != STATUS["SIGNED"]:
                return int(final[0]["reason"]), None
            return status, self.capture_line(seq)

    def capture_line(self, seq: int) -> str:
        # The capture is written by a background thread: wait for the line.
        from conftest import wait_until

        found: list[str] = []

        def present() -> bool:
            if not self.signer.capture.exists():
                return False
            for line in self.signer.capture.read_text().splitlines():
                rec = json.loads(line)
                if rec["intent_seq"] == seq:
                    found.append(rec["tx"])
                    return True
            return False

        wait_until(present, what=f"capture line of intent {seq}")
        return found[0]


def keys_of(tx_b64: str) -> tuple[list[Pubkey], list[int], bytes]:
    """The swap instruction's accounts (resolved), and its data (the last instruction)."""
    tx = VersionedTransaction.from_bytes(base64.b64decode(tx_b64))
    msg = tx.message
    assert isinstance(msg, MessageV0)
    ix = msg.instructions[-1]
    keys = list(msg.account_keys)
    return [keys[i] for i in ix.accounts], list(ix.accounts), bytes(ix.data)


def tick_array_starts(tick: int, spacing: int, a_to_b: bool) -> list[int]:
    """The Orca SDK's rule (``SwapUtils.getTickArrayPublicKeys``): B→A starts from
    ``tick + spacing``; three arrays, down for A→B, up for B→A."""
    per = 88 * spacing
    first = ((tick + (0 if a_to_b else spacing)) // per) * per
    step = -per if a_to_b else per
    return [first + k * step for k in range(3)]


def tick_array(pool: Pubkey, start: int) -> Pubkey:
    return Pubkey.find_program_address([b"tick_array", bytes(pool), str(start).encode()],
                                       WHIRLPOOL)[0]  # fmt: skip


def whirlpool_state(m: Market, pool: Pubkey) -> tuple[int, int]:
    with m.lock:
        a = m.svm.get_account(pool)
    assert a is not None
    data = bytes(a.data)
    return struct.unpack_from("<H", data, 41)[0], struct.unpack_from("<i", data, 81)[0]


def publish_tick(table: TableView, pool_id: int, tick: int) -> None:
    rec = np.zeros(1, dtype=POOL_STATE)[0]
    rec["tick_current"] = tick
    rec["updates"] = 1
    table.write(pool_id, rec)


def test_whirlpool_legs_by_pool_execute_both_ways_and_follow_the_tick_into_the_next_array(
    signer: Signer, instance: str, market: Callable[[Pubkey], Market],
    seg_name: Callable[[str], str], procs: Procs,
) -> None:  # fmt: skip
    kp = write_keypair(signer.tmp / "id.json")
    wallet = kp.pubkey()
    m = market(wallet)
    pool = m.add_whirlpool()
    table = TableView(create_table(seg_name("pools"), "PoolState", 16))
    spacing, tick0 = whirlpool_state(m, pool)
    publish_tick(table, 0, tick0)
    assert spacing == 4
    data = bytes(m.svm.get_account(pool).data)  # type: ignore[union-attr]
    mint_a, vault_a, mint_b, vault_b = pk(data, 101), pk(data, 133), pk(data, 181), pk(data, 213)
    ata_a = get_associated_token_address(wallet, mint_a)
    ata_b = get_associated_token_address(wallet, mint_b)
    oracle = Pubkey.find_program_address([b"oracle", bytes(pool)], WHIRLPOOL)[0]
    signer.start(instance, config(m, signer, pool, "orca_whirlpool"))
    s = Session(signer)
    executed = {"a_to_b": 0, "b_to_a": 0}

    def swap(route: int, amount: int) -> None:
        """One intent on the current pool state, published to the pools table first (as
        the feeder does), executed; the accounts checked against solders' derivation."""
        a_to_b = route == 0
        _, tick = whirlpool_state(m, pool)
        publish_tick(table, 0, tick)
        status, tx = s.sign(route, amount)
        assert status == STATUS["SIGNED"] and tx is not None, status
        keys, _, data = keys_of(tx)
        arrays = [tick_array(pool, st) for st in tick_array_starts(tick, spacing, a_to_b)]
        assert keys == [SPL_TOKEN, wallet, pool, ata_a, vault_a, ata_b, vault_b, *arrays, oracle]
        assert data[41] == int(a_to_b)
        before = (m.balance(ata_a), m.balance(ata_b))
        failed = m.execute(tx)
        assert failed is None, failed
        after = (m.balance(ata_a), m.balance(ata_b))
        if a_to_b:
            assert after[0] == before[0] - amount and after[1] > before[1]
        else:
            assert after[1] == before[1] - amount and after[0] > before[0]
        executed["a_to_b" if a_to_b else "b_to_a"] += 1

    for k in range(3):
        swap(0, 1_000_000_000 + k)  # ~1 SOL
        swap(1, 100_000_000 + k)  # ~100 USDC
    # A swap large enough to move the price out of its tick array (A→B: down).
    _, tick_before = whirlpool_state(m, pool)
    old = s.sign(0, 30_000 * 10**9)
    assert old[1] is not None
    assert m.execute(old[1]) is None
    executed["a_to_b"] += 1
    _, tick1 = whirlpool_state(m, pool)
    per = 88 * spacing
    assert tick1 // per < tick_before // per, (tick_before, tick1)
    # A B→A transaction signed for the previous tick (its arrays start at the old one and
    # run up, missing the one the price is in now) does not execute...
    stale = s.sign(1, 100_000_000 + 99)
    assert stale[1] is not None
    failed = m.execute(stale[1])
    assert failed is not None, "a swap through the previous tick arrays executed"
    print(f"stale tick arrays: {failed.err()}")
    # ...and once the pools table has the new tick, the signer signs for the new arrays.
    for k in range(3):
        swap(0, 1_000_000_000 + 200 + k)
        swap(1, 100_000_000 + 200 + k)
    # A tick far outside the prepared sets: the intent is refused, the templates are rebuilt
    # around it after the batch, and the next intent is signed for its arrays.
    _, tick2 = whirlpool_state(m, pool)
    far = tick2 - 6 * per
    publish_tick(table, 0, far)
    assert s.sign(0, 1_000_000_000 + 500) == (REASON["unsignable"], None)
    status, tx = s.sign(0, 1_000_000_000 + 501)
    assert status == STATUS["SIGNED"] and tx is not None
    keys, _, _ = keys_of(tx)
    assert keys[7:10] == [tick_array(pool, st) for st in tick_array_starts(far, spacing, True)]
    signer.stop()
    print(f"whirlpool executions: {executed}")
    assert executed == {"a_to_b": 7, "b_to_a": 6}


def test_cpmm_legs_by_pool_execute_both_ways_with_token_2022(
    signer: Signer, instance: str, market: Callable[[Pubkey], Market]
) -> None:
    kp = write_keypair(signer.tmp / "id.json")
    wallet = kp.pubkey()
    m = market(wallet)
    pool = m.add_cpmm()
    data = bytes(m.svm.get_account(pool).data)  # type: ignore[union-attr]
    amm_config, vault0, vault1, mint0, mint1, observation = (
        pk(data, 8), pk(data, 72), pk(data, 104), pk(data, 168), pk(data, 200), pk(data, 296),
    )  # fmt: skip
    authority = Pubkey.find_program_address([b"vault_and_lp_mint_auth_seed"], CPMM)[0]
    ata0 = get_associated_token_address(wallet, mint0, SPL_TOKEN)
    ata1 = get_associated_token_address(wallet, mint1, TOKEN_2022)
    signer.start(instance, config(m, signer, pool, "raydium_cpmm"))
    s = Session(signer)
    executed = {"a_to_b": 0, "b_to_a": 0}
    for k in range(3):
        for route in (0, 1):
            a_to_b = route == 0
            amount = (10_000_000 if a_to_b else 1_000_000_000) + k
            status, tx = s.sign(route, amount)
            assert status == STATUS["SIGNED"] and tx is not None, status
            keys, _, _ = keys_of(tx)
            side0 = (ata0, vault0, SPL_TOKEN, mint0)
            side1 = (ata1, vault1, TOKEN_2022, mint1)
            i, o = (side0, side1) if a_to_b else (side1, side0)
            assert keys == [wallet, authority, amm_config, pool, i[0], o[0], i[1], o[1],
                            i[2], o[2], i[3], o[3], observation]  # fmt: skip
            before = (m.balance(ata0), m.balance(ata1))
            failed = m.execute(tx)
            assert failed is None, failed
            after = (m.balance(ata0), m.balance(ata1))
            if a_to_b:
                assert after[0] == before[0] - amount and after[1] > before[1]
            else:
                assert after[1] == before[1] - amount and after[0] > before[0]
            executed["a_to_b" if a_to_b else "b_to_a"] += 1
    signer.stop()
    print(f"cpmm executions: {executed}")
    assert executed == {"a_to_b": 3, "b_to_a": 3}


def push_legs(signer: Signer, seq: int, route: int, amounts: list[int], mins: list[int]) -> None:
    from phantom_pipeline import _native
    from phantom_pipeline.schema import ORDER_INTENT

    rec = np.zeros(1, dtype=ORDER_INTENT)[0]
    now = _native.monotonic_ns()
    rec["seq"], rec["epoch"], rec["tick_seq"], rec["route_id"] = seq, 1, seq, route
    for j, (a, m_) in enumerate(zip(amounts, mins, strict=True)):
        rec["amount_in"][j], rec["min_out"][j] = a, m_
    rec["cu_price_micro_lamports"] = 1234
    for f in ("t_tick_recv_ns", "t_tick_pub_ns", "t_strategy_read_ns", "t_intent_ns"):
        rec[f] = now
    assert signer.intents.push(rec)


def decode_swap_base_in_v2(keys: list[Pubkey], data: bytes) -> dict[str, Any]:
    """raydium-amm ``AmmInstruction::unpack`` for tag 16 (``SwapBaseInV2``), with the
    account list of its ``swap_base_in_v2`` builder; written from that source."""
    assert len(data) == 17 and data[0] == 16, data
    amount_in, minimum_amount_out = struct.unpack_from("<QQ", data, 1)
    names = ("token_program", "amm", "amm_authority", "amm_coin_vault", "amm_pc_vault",
             "user_token_source", "user_token_destination", "user_source_owner")  # fmt: skip
    assert len(keys) == len(names)
    return {"amount_in": amount_in, "minimum_amount_out": minimum_amount_out,
            **dict(zip(names, keys, strict=True))}  # fmt: skip


def test_v4_whirlpool_routes_by_pool_sign_whirlpool_swaps_that_execute_both_ways(
    signer: Signer, instance: str, market: Callable[[Pubkey], Market],
    seg_name: Callable[[str], str],
) -> None:  # fmt: skip
    from solders.compute_budget import set_compute_unit_limit
    from solders.instruction import AccountMeta, Instruction
    from solders.message import MessageV0 as Msg

    kp = write_keypair(signer.tmp / "id.json")
    wallet = kp.pubkey()
    m = market(wallet)
    wp = m.add_whirlpool()
    v4 = fixture("raydium_amm_v4-58oQChx4.json")
    v4_data = base64.b64decode(v4["data_base64"])
    amm = Pubkey.from_string(v4["address"])
    m.put(amm, Account(10**10, v4_data, Pubkey.from_string(v4["owner"])))
    for name in ("spl_token_account-DQyrAcCr.json", "spl_token_account-HLmqeL62.json"):
        v = fixture(name)
        m.put(Pubkey.from_string(v["address"]),
              Account(10**9, base64.b64decode(v["data_base64"]), SPL_TOKEN))  # fmt: skip
    table = TableView(create_table(seg_name("pools"), "PoolState", 16))
    text = (ROOT.parent / "examples" / "mainnet.toml").read_text()
    text = text[text.index("[[pools]]") :]
    text = text.replace("max_amount_in_raw = 1000000000\n", "max_amount_in_raw = 10000000000\n")
    cfg = config(m, signer, wp, "orca_whirlpool")
    cfg = cfg[cfg.index("[signer]") : cfg.index("[[routes]]")] + text
    signer.start(instance, cfg)
    nonce = struct.unpack_from("<Q", v4_data, 8)[0]
    v4_authority = Pubkey.create_program_address([b"amm authority", bytes([nonce])],
                                                 Pubkey.from_string(v4["owner"]))  # fmt: skip
    sol = get_associated_token_address(wallet, pk(v4_data, 400))
    usdc = get_associated_token_address(wallet, pk(v4_data, 432))
    executed = {"a_to_b": 0, "b_to_a": 0}
    seq = 0
    for k in range(3):
        for route in (0, 1):
            _, tick = whirlpool_state(m, wp)
            publish_tick(table, 1, tick)
            while True:
                if route == 0:  # v4 SOL->USDC, whirlpool USDC->SOL
                    push_legs(signer, seq, 0, [10**9 + k, 200 * 10**6 + k],
                              [200 * 10**6 + k, 10**9 + k + 1])  # fmt: skip
                else:  # whirlpool SOL->USDC, v4 USDC->SOL
                    push_legs(signer, seq, 1, [10**9 + k, 100 * 10**6 + k],
                              [100 * 10**6 + k, 10**9 + k + 1])  # fmt: skip
                reports = signer.decided(seq + 1)
                final = [r for r in reports if int(r["intent_seq"]) == seq
                         and r["status"] in (STATUS["SIGNED"], STATUS["REJECTED"])]  # fmt: skip
                seq += 1
                if int(final[0]["status"]) == STATUS["SIGNED"]:
                    break
                assert int(final[0]["reason"]) == REASON["blockhash_too_old"], final
                assert seq < 10_000
            tx_b64 = Session(signer).capture_line(seq - 1)
            tx = VersionedTransaction.from_bytes(base64.b64decode(tx_b64))
            msg = tx.message
            keys = list(msg.account_keys)
            v4_ix, wp_ix = (msg.instructions[2], msg.instructions[3]) if route == 0 else (
                msg.instructions[3], msg.instructions[2])  # fmt: skip
            decoded = decode_swap_base_in_v2([keys[i] for i in v4_ix.accounts], bytes(v4_ix.data))
            assert decoded == {
                "amount_in": 10**9 + k if route == 0 else 100 * 10**6 + k,
                "minimum_amount_out": 200 * 10**6 + k if route == 0 else 10**9 + k + 1,
                "token_program": SPL_TOKEN, "amm": amm, "amm_authority": v4_authority,
                "amm_coin_vault": pk(v4_data, 336), "amm_pc_vault": pk(v4_data, 368),
                "user_token_source": sol if route == 0 else usdc,
                "user_token_destination": usdc if route == 0 else sol,
                "user_source_owner": wallet,
            }  # fmt: skip
            # The Whirlpool instruction as signed, executed alone (no v4 binary here).
            metas = [AccountMeta(keys[i], msg.is_signer(i), msg.is_maybe_writable(i))
                     for i in wp_ix.accounts]  # fmt: skip
            ix = Instruction(keys[wp_ix.program_id_index], bytes(wp_ix.data), metas)
            with m.lock:
                blockhash = m.svm.latest_blockhash()
            alone = Msg.try_compile(wallet, [set_compute_unit_limit(400_000), ix], [], blockhash)
            before = (m.balance(sol), m.balance(usdc))
            failed = m.execute(base64.b64encode(bytes(VersionedTransaction(alone, [kp]))).decode())
            assert failed is None, failed
            after = (m.balance(sol), m.balance(usdc))
            if route == 0:  # the whirlpool leg sells USDC (b_to_a)
                assert after[1] == before[1] - (200 * 10**6 + k) and after[0] > before[0]
                executed["b_to_a"] += 1
            else:
                assert after[0] == before[0] - (10**9 + k) and after[1] > before[1]
                executed["a_to_b"] += 1
    signer.stop()
    print(f"whirlpool legs of v4<->whirlpool routes executed: {executed}")
    assert executed == {"a_to_b": 3, "b_to_a": 3}


def test_live_start_is_refused_when_a_wallet_token_account_does_not_exist(
    signer: Signer, instance: str, market: Callable[[Pubkey], Market]
) -> None:
    import subprocess

    from phantom_pipeline.binaries import executable

    kp = write_keypair(signer.tmp / "id.json")
    wallet = kp.pubkey()
    m = market(wallet)
    pool = m.add_whirlpool()
    data = bytes(m.svm.get_account(pool).data)  # type: ignore[union-attr]
    usdc = pk(data, 181)
    ata = get_associated_token_address(wallet, usdc)
    m.put(ata, Account(0, b"", Pubkey.default()))  # gone
    text = (
        config(m, signer, pool, "orca_whirlpool")
        .replace("[signer]\n", '[signer]\nmode = "live"\n')
        .replace("[[routes.legs]]", "min_out_per_in_ppm = 1\n[[routes.legs]]")
    )
    path = signer.tmp / "live.toml"
    path.write_text(text)
    r = subprocess.run([str(executable("phantom-signer")), "--instance", instance, "--config",
                        str(path), "--live"], capture_output=True, text=True, timeout=120,
                       check=False)  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert f"mint {usdc}" in r.stderr and str(ata) in r.stderr, r.stderr
    assert f"spl-token create-account {usdc} --owner {wallet}" in r.stderr, r.stderr
