"""The simulator executes transactions on the real programs (issue 18): `phantom-sim
--programs ../shared/programs` runs the mainnet Raydium CPMM and Orca Whirlpool binaries in
an embedded SVM. Transactions are built here with `solders`, independently of the signer,
against the accounts the simulator serves; each case must succeed or fail for its own
reason (the programs' own error codes and logs)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import struct
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from solders.compute_budget import set_compute_unit_limit
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from conftest import REPO, Procs, wait_until
from phantom_pipeline.binaries import executable

PROGRAMS = Path(os.environ.get("PHANTOM_PROGRAMS", REPO.parent / "shared" / "programs"))
pytestmark = pytest.mark.skipif(
    not (PROGRAMS / "raydium_cp_swap.so").is_file(),
    reason=f"no program binaries in {PROGRAMS} (set PHANTOM_PROGRAMS)",
)

CPMM = Pubkey.from_string("CPMMoo8L3F4NbTegBCKVNunggL7H1ZpdTHKxQB5qKP1C")
WHIRLPOOL = Pubkey.from_string("whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc")
TOKEN = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022 = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
ATA_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
# raydium-cp-swap `ErrorCode`: ExceededSlippage; Anchor: ConstraintAddress, AccountNotInitialized.
CPMM_EXCEEDED_SLIPPAGE = 6005
ANCHOR_CONSTRAINT_ADDRESS = 2012
ANCHOR_ACCOUNT_NOT_INITIALIZED = 3012
# whirlpools `ErrorCode::AmountOutBelowMinimum`.
WHIRLPOOL_AMOUNT_OUT_BELOW_MINIMUM = 6036
MIN_SQRT_PRICE = 4295048016
MAX_SQRT_PRICE = 79226673515401279992447579055


def ata(wallet: Pubkey, program: Pubkey, mint: Pubkey) -> Pubkey:
    return Pubkey.find_program_address([bytes(wallet), bytes(program), bytes(mint)], ATA_PROGRAM)[0]


def disc(name: str) -> bytes:
    return hashlib.sha256(f"global:{name}".encode()).digest()[:8]


class Rpc:
    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())

    def data(self, address: Pubkey | str) -> bytes:
        v = self("getAccountInfo", str(address), {"encoding": "base64"})["result"]["value"]
        assert v is not None, f"{address} is not served"
        return base64.b64decode(v["data"][0])

    def amount(self, address: Pubkey | str) -> int:
        return int(struct.unpack_from("<Q", self.data(address), 64)[0])

    def blockhash(self) -> Hash:
        return Hash.from_string(self("getLatestBlockhash")["result"]["value"]["blockhash"])


def at(d: bytes, off: int) -> Pubkey:
    return Pubkey(d[off : off + 32])


def cpmm_swap(rpc: Rpc, payer: Keypair, pool: str, a_to_b: bool, amount_in: int, min_out: int,
              **override: Pubkey) -> Instruction:  # fmt: skip
    """`swap_base_input` on a CPMM pool, every account as the pool names it (or `override`)."""
    d = rpc.data(pool)
    mints, vaults, programs = (at(d, 168), at(d, 200)), (at(d, 72), at(d, 104)), (at(d, 232), at(d, 264))  # fmt: skip
    i, o = (0, 1) if a_to_b else (1, 0)
    acc = {
        "payer": payer.pubkey(),
        "authority": Pubkey.find_program_address([b"vault_and_lp_mint_auth_seed"], CPMM)[0],
        "amm_config": at(d, 8),
        "pool_state": Pubkey.from_string(pool),
        "input_token_account": ata(payer.pubkey(), programs[i], mints[i]),
        "output_token_account": ata(payer.pubkey(), programs[o], mints[o]),
        "input_vault": vaults[i],
        "output_vault": vaults[o],
        "input_token_program": programs[i],
        "output_token_program": programs[o],
        "input_token_mint": mints[i],
        "output_token_mint": mints[o],
        "observation_state": at(d, 296),
    }
    acc.update(override)
    writable = {"pool_state", "input_token_account", "output_token_account", "input_vault",
                "output_vault", "observation_state"}  # fmt: skip
    metas = [AccountMeta(v, k == "payer", k in writable) for k, v in acc.items()]
    return Instruction(
        CPMM, disc("swap_base_input") + struct.pack("<QQ", amount_in, min_out), metas
    )


def whirlpool_swap(rpc: Rpc, payer: Keypair, pool: str, a_to_b: bool, amount_in: int,
                   min_out: int, **override: Pubkey) -> Instruction:  # fmt: skip
    """`swap` (exact input) on a Whirlpool, tick arrays following the current tick."""
    d = rpc.data(pool)
    wp = Pubkey.from_string(pool)
    spacing = struct.unpack_from("<H", d, 41)[0]
    tick = struct.unpack_from("<i", d, 81)[0]
    width = 88 * spacing
    start = tick // width * width
    step = -width if a_to_b else width
    arrays = [Pubkey.find_program_address([b"tick_array", bytes(wp), str(start + k * step).encode()],
                                          WHIRLPOOL)[0] for k in range(3)]  # fmt: skip
    acc = {
        "token_program": TOKEN,
        "token_authority": payer.pubkey(),
        "whirlpool": wp,
        "token_owner_account_a": ata(payer.pubkey(), TOKEN, at(d, 101)),
        "token_vault_a": at(d, 133),
        "token_owner_account_b": ata(payer.pubkey(), TOKEN, at(d, 181)),
        "token_vault_b": at(d, 213),
        "tick_array_0": arrays[0],
        "tick_array_1": arrays[1],
        "tick_array_2": arrays[2],
        "oracle": Pubkey.find_program_address([b"oracle", bytes(wp)], WHIRLPOOL)[0],
    }
    acc.update(override)
    metas = [AccountMeta(v, k == "token_authority", k not in ("token_program", "token_authority"))
             for k, v in acc.items()]  # fmt: skip
    limit = MIN_SQRT_PRICE if a_to_b else MAX_SQRT_PRICE
    data = disc("swap") + struct.pack("<QQ", amount_in, min_out) + limit.to_bytes(16, "little")
    return Instruction(WHIRLPOOL, data + bytes([1, 1 if a_to_b else 0]), metas)


def tx(rpc: Rpc, payer: Keypair, *ixs: Instruction) -> str:
    msg = MessageV0.try_compile(payer.pubkey(), [set_compute_unit_limit(400_000), *ixs], [],
                                rpc.blockhash())  # fmt: skip
    return base64.b64encode(bytes(VersionedTransaction(msg, [payer]))).decode()


def simulate(rpc: Rpc, wire: str, **cfg: Any) -> dict[str, Any]:
    r = rpc("simulateTransaction", wire, {"encoding": "base64", **cfg})
    assert "result" in r, r
    return r["result"]["value"]  # type: ignore[no-any-return]


def custom_error(value: dict[str, Any]) -> int | None:
    err = value["err"]
    if isinstance(err, dict) and "InstructionError" in err:
        inner = err["InstructionError"][1]
        if isinstance(inner, dict) and "Custom" in inner:
            return int(inner["Custom"])
    return None


@pytest.fixture
def wallet() -> Keypair:
    return Keypair()


@pytest.fixture
def svm_sim(procs: Procs, wallet: Keypair) -> Iterator[dict[str, Any]]:
    # Quiet market (no random walk between the cases' reads and executions): --steps 0.
    p = procs.start([str(executable("phantom-sim")), "--port", "0",
                     "--steps", "0", "--programs", str(PROGRAMS),
                     "--fund-wallet", str(wallet.pubkey())])  # fmt: skip
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line, "the simulator did not start"
    ready = json.loads(line)
    ready["rpc_client"] = Rpc(ready["rpc"])
    yield ready
    p.kill()


def pools_of(sim: dict[str, Any], kind: str) -> list[str]:
    return [p["address"] for p in sim["pools"] if p["kind"] == kind]


def test_the_ready_line_names_what_is_executed_and_what_is_modelled(
    svm_sim: dict[str, Any],
) -> None:
    assert svm_sim["executed"] == ["raydium_cpmm", "orca_whirlpool"]
    assert svm_sim["modelled"] == ["raydium_amm_v4"]


@pytest.mark.parametrize("pool_index", [0, 1])
@pytest.mark.parametrize("a_to_b", [True, False])
def test_cpmm_swaps_execute_on_the_real_program(
    svm_sim: dict[str, Any], wallet: Keypair, pool_index: int, a_to_b: bool
) -> None:
    rpc: Rpc = svm_sim["rpc_client"]
    pool = pools_of(svm_sim, "raydium_cpmm")[pool_index]
    amount = 10**8 if a_to_b else 10**9  # 0.1 WSOL, or 1 000 pump
    ix = cpmm_swap(rpc, wallet, pool, a_to_b, amount, 1)
    out_account = next(m.pubkey for m in ix.accounts[5:6])
    before = rpc.amount(out_account)
    v = simulate(rpc, tx(rpc, wallet, ix), sigVerify=True,
                 accounts={"addresses": [str(out_account)], "encoding": "base64"})  # fmt: skip
    assert v["err"] is None, v["logs"]
    assert "modelled" not in v
    assert 10_000 < v["unitsConsumed"] < 200_000
    assert any(f"Program {CPMM} success" in line for line in v["logs"])
    got = struct.unpack_from("<Q", base64.b64decode(v["accounts"][0]["data"][0]), 64)[0] - before
    assert got > 0
    # The real output: a min_out one above it fails with the program's ExceededSlippage.
    v2 = simulate(rpc, tx(rpc, wallet, cpmm_swap(rpc, wallet, pool, a_to_b, amount, got + 1)))
    assert custom_error(v2) == CPMM_EXCEEDED_SLIPPAGE, v2
    assert any("ExceededSlippage" in line for line in v2["logs"]), v2["logs"]
    # Exactly the real output passes.
    v3 = simulate(rpc, tx(rpc, wallet, cpmm_swap(rpc, wallet, pool, a_to_b, amount, got)))
    assert v3["err"] is None, v3["logs"]


def test_cpmm_refuses_exchanged_vaults_a_wrong_token_program_and_a_missing_account(
    svm_sim: dict[str, Any], wallet: Keypair
) -> None:
    rpc: Rpc = svm_sim["rpc_client"]
    pool = pools_of(svm_sim, "raydium_cpmm")[1]
    d = rpc.data(pool)
    swapped = cpmm_swap(rpc, wallet, pool, True, 10**8, 1, input_vault=at(d, 104),
                        output_vault=at(d, 72))  # fmt: skip
    v = simulate(rpc, tx(rpc, wallet, swapped))
    # The vaults' mints no longer match the swap's mints: the program's constraint says so.
    assert custom_error(v) == ANCHOR_CONSTRAINT_ADDRESS, v
    assert any("caused by account: input_token_mint" in line for line in v["logs"]), v["logs"]
    # The pump side is Token-2022: naming SPL Token for it is refused.
    wrong = cpmm_swap(rpc, wallet, pool, True, 10**8, 1, output_token_program=TOKEN)
    v = simulate(rpc, tx(rpc, wallet, wrong))
    # This build takes any token interface: SPL Token, handed a Token-2022 account, fails.
    assert v["err"] == {"InstructionError": [1, "ExternalAccountDataModified"]}, v
    assert (
        f"Program {TOKEN} failed: instruction modified data of an account it does not own"
        in v["logs"]
    )
    stranger = Keypair()
    missing = cpmm_swap(rpc, wallet, pool, True, 10**8, 1,
                        output_token_account=ata(stranger.pubkey(), TOKEN_2022, at(d, 200)))  # fmt: skip
    v = simulate(rpc, tx(rpc, wallet, missing))
    assert custom_error(v) == ANCHOR_ACCOUNT_NOT_INITIALIZED, v
    assert any("output_token_account" in line for line in v["logs"]), v["logs"]


def test_signatures_and_blockhashes_are_checked_as_a_validator_does(
    svm_sim: dict[str, Any], wallet: Keypair
) -> None:
    rpc: Rpc = svm_sim["rpc_client"]
    pool = pools_of(svm_sim, "raydium_cpmm")[0]
    raw = bytearray(base64.b64decode(tx(rpc, wallet, cpmm_swap(rpc, wallet, pool, True, 10**8, 1))))
    raw[1:65] = bytes(64)  # signature zeroed
    zeroed = base64.b64encode(bytes(raw)).decode()
    assert simulate(rpc, zeroed, sigVerify=False)["err"] is None
    assert simulate(rpc, zeroed, sigVerify=True)["err"] == "SignatureFailure"
    msg = MessageV0.try_compile(wallet.pubkey(), [cpmm_swap(rpc, wallet, pool, True, 10**8, 1)],
                                [], Hash.new_unique())  # fmt: skip
    stale = base64.b64encode(bytes(VersionedTransaction(msg, [wallet]))).decode()
    assert simulate(rpc, stale)["err"] == "BlockhashNotFound"
    v = simulate(rpc, stale, replaceRecentBlockhash=True)
    assert v["err"] is None, v["logs"]
    assert v["replacementBlockhash"]["blockhash"] != str(Hash.default())
    r = rpc("simulateTransaction", stale, {"encoding": "base64", "sigVerify": True,
                                            "replaceRecentBlockhash": True})  # fmt: skip
    assert "sigVerify may not be used with replaceRecentBlockhash" in r["error"]["message"]


@pytest.mark.parametrize("a_to_b", [True, False])
def test_whirlpool_swaps_execute_and_fail_for_their_reasons(
    svm_sim: dict[str, Any], wallet: Keypair, a_to_b: bool
) -> None:
    rpc: Rpc = svm_sim["rpc_client"]
    pool = pools_of(svm_sim, "orca_whirlpool")[0]
    amount = 10**9 if a_to_b else 10**8  # 1 SOL, or 100 USDC
    ix = whirlpool_swap(rpc, wallet, pool, a_to_b, amount, 1)
    out_account = ix.accounts[5 if a_to_b else 3].pubkey
    before = rpc.amount(out_account)
    v = simulate(rpc, tx(rpc, wallet, ix),
                 accounts={"addresses": [str(out_account)], "encoding": "base64"})  # fmt: skip
    assert v["err"] is None, v["logs"]
    assert any(f"Program {WHIRLPOOL} success" in line for line in v["logs"])
    got = struct.unpack_from("<Q", base64.b64decode(v["accounts"][0]["data"][0]), 64)[0] - before
    assert got > 0
    v = simulate(rpc, tx(rpc, wallet, whirlpool_swap(rpc, wallet, pool, a_to_b, amount, got + 1)))
    assert custom_error(v) == WHIRLPOOL_AMOUNT_OUT_BELOW_MINIMUM, v
    d = rpc.data(pool)
    v = simulate(rpc, tx(rpc, wallet, whirlpool_swap(rpc, wallet, pool, a_to_b, amount, 1,
                                                     token_vault_a=at(d, 213),
                                                     token_vault_b=at(d, 133))))  # fmt: skip
    assert v["err"] is not None and custom_error(v) is not None, v
    v = simulate(rpc, tx(rpc, wallet, whirlpool_swap(rpc, wallet, pool, a_to_b, amount, 1,
                                                     token_program=TOKEN_2022)))  # fmt: skip
    assert v["err"] is not None, v
    assert any("token_program" in line for line in v["logs"]), v["logs"]
    stranger = Keypair()
    v = simulate(rpc, tx(rpc, wallet, whirlpool_swap(
        rpc, wallet, pool, a_to_b, amount, 1,
        token_owner_account_b=ata(stranger.pubkey(), TOKEN, at(d, 181)))))  # fmt: skip
    assert custom_error(v) == ANCHOR_ACCOUNT_NOT_INITIALIZED, v


@pytest.mark.parametrize(
    ("kind", "big"), [("raydium_cpmm", 50 * 10**9), ("orca_whirlpool", 20_000 * 10**9)]
)
def test_a_sent_swap_moves_the_pool_notifies_and_a_trade_priced_before_loses(
    svm_sim: dict[str, Any], wallet: Keypair, kind: str, big: int
) -> None:
    """An intent within its limits on the pool as it was fails once another trade moved it;
    the trade that moved it landed, changed the vaults, and subscribers were told."""
    rpc: Rpc = svm_sim["rpc_client"]
    pool = pools_of(svm_sim, kind)[0]
    swap = cpmm_swap if kind == "raydium_cpmm" else whirlpool_swap
    d = rpc.data(pool)
    vault_a, vault_b = (
        (at(d, 72), at(d, 104)) if kind == "raydium_cpmm" else (at(d, 133), at(d, 213))
    )
    mine = swap(rpc, wallet, pool, True, 10**9, 1)
    out = mine.accounts[5].pubkey  # the output (token b) account in both layouts
    v = simulate(rpc, tx(rpc, wallet, mine), accounts={"addresses": [str(out)]})
    quote = struct.unpack_from("<Q", base64.b64decode(v["accounts"][0]["data"][0]), 64)[0]
    quote -= rpc.amount(out)
    # Within limits: 0.5 % slippage allowed on the quote.
    min_out = quote * 995 // 1000
    ok = simulate(rpc, tx(rpc, wallet, swap(rpc, wallet, pool, True, 10**9, min_out)))
    assert ok["err"] is None, ok["logs"]
    before = (rpc.amount(vault_a), rpc.amount(vault_b))

    async def send_and_watch() -> dict[str, int]:
        async with websockets.connect(svm_sim["ws"], max_size=None) as ws:
            for i, v in enumerate((vault_a, vault_b)):
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "accountSubscribe",
                                          "params": [str(v), {"encoding": "base64"}]}))  # fmt: skip
                await asyncio.wait_for(ws.recv(), timeout=60)
            # Another trade lands first: a large sale of token a into the pool.
            r = await asyncio.to_thread(rpc, "sendTransaction",
                                        tx(rpc, wallet, swap(rpc, wallet, pool, True, big, 1)),
                                        {"encoding": "base64"})  # fmt: skip
            assert "result" in r, r
            seen: dict[str, int] = {}
            while len(seen) < 2:
                msg = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
                if msg.get("method") == "accountNotification":
                    data = base64.b64decode(msg["params"]["result"]["value"]["data"][0])
                    seen[str(msg["params"]["subscription"])] = struct.unpack_from("<Q", data, 64)[0]
            return seen

    seen = asyncio.run(send_and_watch())
    after = (rpc.amount(vault_a), rpc.amount(vault_b))
    assert after[0] == before[0] + big
    assert after[1] < before[1]
    assert sorted(seen.values()) == sorted(after)
    v = simulate(rpc, tx(rpc, wallet, swap(rpc, wallet, pool, True, 10**9, min_out)))
    slippage = (
        CPMM_EXCEEDED_SLIPPAGE if kind == "raydium_cpmm" else WHIRLPOOL_AMOUNT_OUT_BELOW_MINIMUM
    )
    assert custom_error(v) == slippage, v


def test_the_walk_is_other_traders_swaps_executed_on_the_programs(procs: Procs) -> None:
    """Only a swap the program executed writes a CPMM observation or grows a Whirlpool's
    fee accumulators: the walk's moves of executed pools are such swaps, by the trader the
    ready line names."""
    p = procs.start([str(executable("phantom-sim")), "--port", "0",
                     "--trades-per-second", "100", "--programs", str(PROGRAMS)])  # fmt: skip
    assert p.stdout is not None
    ready = json.loads(p.stdout.readline())
    rpc = Rpc(ready["rpc"])
    trader = Pubkey.from_string(ready["trader"])
    cpmm = [rpc.data(a) for a in pools_of(ready, "raydium_cpmm")]
    observations = [at(d, 296) for d in cpmm]
    obs0 = [rpc.data(o) for o in observations]
    wp = pools_of(ready, "orca_whirlpool")[0]
    fees0 = rpc.data(wp)[165:181] + rpc.data(wp)[245:261]
    pump_ata = ata(trader, TOKEN_2022, at(cpmm[0], 200))
    pump0 = rpc.amount(pump_ata)

    def traded() -> bool:
        d = rpc.data(wp)
        return (
            all(rpc.data(o) != o0 for o, o0 in zip(observations, obs0, strict=True))
            and d[165:181] + d[245:261] != fees0
            and rpc.amount(pump_ata) != pump0
        )

    wait_until(traded, timeout=120, what="the walk's swaps on both CPMM pools and the Whirlpool")
    # Each observation names its own pool (the program wrote it; the pools are distinct).
    assert [at(rpc.data(o), 11) for o in observations] == [
        Pubkey.from_string(a) for a in pools_of(ready, "raydium_cpmm")
    ]
    p.kill()


def test_without_programs_every_reply_says_it_is_modelled(procs: Procs, wallet: Keypair) -> None:
    p = procs.start([str(executable("phantom-sim")), "--port", "0", "--steps", "0",
                     "--fund-wallet", str(wallet.pubkey())])  # fmt: skip
    assert p.stdout is not None
    ready = json.loads(p.stdout.readline())
    assert ready["executed"] == []
    assert set(ready["modelled"]) == {"raydium_amm_v4", "orca_whirlpool", "raydium_cpmm"}
    rpc = Rpc(ready["rpc"])
    pool = pools_of(ready, "raydium_cpmm")[0]
    v = simulate(rpc, tx(rpc, wallet, cpmm_swap(rpc, wallet, pool, True, 10**8, 1)))
    assert v["modelled"] == "no --programs: transactions are not executed"
    assert v["logs"] == ["phantom-sim: modelled: no --programs: transactions are not executed"]
    p.kill()
