"""The signer's route rules from outside: random intents through the real ``phantom-signer``
process; every transaction it signs is decoded with ``solders`` and each rule is checked on
the decoded instruction data (not on the intent), and every refusal names the rule an
independent statement of the rules (below) says is broken first.

The routes cover each shape the rules distinguish: a three-leg and a two-leg cyclic route
(v4, CPMM, Whirlpool), a swap-then-transfer cycle, a one-leg route held to a worst price, a
one-leg route without one (dry-run only) and a plain transfer.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from test_signer import (
    COMPUTE_BUDGET,
    CPMM,
    RAYDIUM_CPMM,
    RAYDIUM_V4,
    REASON,
    SPL_TOKEN,
    STATUS,
    TICK_VARIANTS,
    V4,
    WHIRLPOOL,
    WP,
    Signer,
    addr,
    anchor,
    write_keypair,
)

from conftest import Procs
from phantom_pipeline import _native
from phantom_pipeline.schema import ORDER_INTENT

SYSTEM = Pubkey.from_string("11111111111111111111111111111111")
REASON_NAME = {code: name for name, code in REASON.items()}
EXAMPLES = int(os.environ.get("PHANTOM_RULE_EXAMPLES", "150"))


@dataclass(frozen=True)
class Route:
    """What the rules need to know of a route (the config below states the same)."""

    legs: tuple[str, ...]  # "swap" or "transfer", in order
    cyclic: bool
    max_in: int
    min_profit: int = 0
    ppm: int | None = None


ROUTES = [
    Route(("swap", "swap", "swap"), cyclic=True, max_in=5_000_000, min_profit=50),
    Route(("swap", "swap"), cyclic=True, max_in=5_000_000),
    Route(("swap",), cyclic=False, max_in=5_000_000, ppm=2_000_000),
    Route(("swap",), cyclic=False, max_in=5_000_000),
    Route(("swap", "transfer"), cyclic=True, max_in=5_000_000, min_profit=1),
    Route(("transfer",), cyclic=False, max_in=1_000_000, ppm=1_000_000),
]


def _accounts(table: dict[str, Pubkey], **override: Pubkey) -> str:
    return "\n".join(f'{k} = "{v}"' for k, v in {**table, **override}.items())


def _leg(pool: int, direction: str, program: str, accounts: str, variants: bool = False) -> str:
    text = (f'[[routes.legs]]\npool = {pool}\ndirection = "{direction}"\n'
            f'program = "{program}"\n[routes.legs.accounts]\n{accounts}\n')  # fmt: skip
    if variants:
        start, arrays = TICK_VARIANTS[0]
        quoted = ", ".join(f'"{a}"' for a in arrays)
        text += f"[[routes.legs.tick_array_variants]]\nstart_tick_index = {start}\n"
        text += f"tick_arrays = [{quoted}]\n"
    return text


def _alt() -> str:
    addresses = ", ".join(f'"{addr(n)}"' for n in range(10, 48))
    return f'[[routes.address_lookup_tables]]\naddress = "{addr(91)}"\naddresses = [{addresses}]\n'


def config_text(keypair: Path, capture: Path) -> str:
    a = addr
    v4 = lambda s, d: _accounts(V4, user_token_a=a(s), user_token_b=a(d))  # noqa: E731
    cpmm = lambda s, d: _accounts(CPMM, user_token_a=a(s), user_token_b=a(d))  # noqa: E731
    wp = lambda s, d: _accounts(WP, user_token_a=a(s), user_token_b=a(d))  # noqa: E731
    head = f"""
[[pools]]
name = "v4"
[[pools]]
name = "cpmm"
[[pools]]
name = "whirlpool"

[signer]
keypair_path = "{keypair}"
capture_path = "{capture}"

[signer.limits]
max_intents_per_second = 1000000
max_notional_per_minute_raw = 18000000000000000000
max_open_intents = 100000
max_tick_age_ms = 600000
max_compute_unit_price_micro_lamports = 1000000
max_tip_lamports = 100000
max_lamports_per_minute = 1000000000000
max_lamports_per_day = 1000000000000
"""
    route = lambda name, extra: (  # noqa: E731
        f'\n[[routes]]\nname = "{name}"\ncompute_unit_limit = 200000\n{extra}\n'
    )
    return (
        head
        # 0: v4 a->b (2 -> 3), CPMM b->a (3 -> 4), Whirlpool a->b (4 -> 2): a cycle.
        + route("three-leg cycle", "max_amount_in_raw = 5000000\nmin_profit_raw = 50")
        + _alt()
        + _leg(0, "a_to_b", "raydium_amm_v4", v4(2, 3))
        + _leg(1, "b_to_a", "raydium_cpmm", cpmm(4, 3))
        + _leg(2, "a_to_b", "orca_whirlpool", wp(4, 2), variants=True)
        # 1: CPMM a->b (5 -> 6), v4 b->a (6 -> 5).
        + route("two-leg cycle", "max_amount_in_raw = 5000000")
        + _alt()
        + _leg(1, "a_to_b", "raydium_cpmm", cpmm(5, 6))
        + _leg(0, "b_to_a", "raydium_amm_v4", v4(5, 6))
        # 2: one v4 leg 2 -> 3, at least 2 out per 1 in.
        + route("priced", "max_amount_in_raw = 5000000\nmin_out_per_in_ppm = 2000000")
        + _leg(0, "a_to_b", "raydium_amm_v4", v4(2, 3))
        # 3: one Whirlpool leg 4 -> 2, no worst price (dry-run only).
        + route("unpriced", "max_amount_in_raw = 5000000")
        + _leg(2, "a_to_b", "orca_whirlpool", wp(4, 2), variants=True)
        # 4: CPMM a->b (7 -> 8), then a transfer 8 -> 7 back to the start.
        + route("swap then transfer", "max_amount_in_raw = 5000000\nmin_profit_raw = 1")
        + _leg(1, "a_to_b", "raydium_cpmm", cpmm(7, 8))
        + f'[[routes.legs]]\nprogram = "spl_transfer"\n[routes.legs.accounts]\n'
        f'source = "{a(8)}"\ndestination = "{a(7)}"\n'
        # 5: a transfer 9 -> 10, which moves exactly its amount.
        + route("transfer", "max_amount_in_raw = 1000000\nmin_out_per_in_ppm = 1000000")
        + f'[[routes.legs]]\nprogram = "spl_transfer"\n[routes.legs.accounts]\n'
        f'source = "{a(9)}"\ndestination = "{a(10)}"\n'
    )


def first_broken_rule(route: Route, a: list[int], m: list[int]) -> str | None:
    """The rules of issue 12 stated on their own, in the signer's order of checks."""
    n = len(route.legs)
    swap = [kind == "swap" for kind in route.legs]

    def guaranteed(k: int) -> int:
        return m[k] if swap[k] else a[k]

    for k in range(n):
        if a[k] == 0:
            return "zero_amount" if k == 0 else "leg_amount_zero"
        if swap[k] and m[k] == 0:
            return "leg_min_out_zero"
    if a[0] > route.max_in:
        return "amount_over_route_max"
    for k in range(1, n):
        if a[k] > guaranteed(k - 1):
            return "leg_chain_exceeds_min_out"
    for k in range(3):
        if (k >= n and a[k] != 0) or ((k >= n or not swap[k]) and m[k] != 0):
            return "unused_leg_nonzero"
    last = guaranteed(n - 1)
    if route.cyclic and last < a[0] + route.min_profit:
        return "cycle_below_min_profit"
    if route.ppm is not None and last * 1_000_000 < a[0] * route.ppm:
        return "below_min_price"
    return None


U64 = 2**64 - 1


@st.composite
def intents(draw: Any) -> tuple[int, list[int], list[int]]:
    """A route and amounts that are mostly near the rules' edges: a chain built to be
    valid, then some fields nudged, zeroed, blown up, or set on unused legs."""
    rid = draw(st.integers(0, len(ROUTES) - 1))
    route = ROUTES[rid]
    a = [0, 0, 0]
    m = [0, 0, 0]
    a[0] = draw(st.integers(1, route.max_in + 10))
    prev = a[0]
    for k, kind in enumerate(route.legs):
        if k > 0:
            a[k] = max(1, prev - draw(st.integers(-2, 3)))
        if kind == "swap":
            ratio_ppm = draw(st.integers(500_000, 3_000_000))
            m[k] = max(1, a[k] * ratio_ppm // 1_000_000 + draw(st.integers(-3, 3)))
            prev = m[k]
        else:
            prev = a[k]
    # The last leg around the floors: min profit or worst price.
    last = len(route.legs) - 1
    if route.legs[last] == "swap" and draw(st.booleans()):
        floor = a[0] + route.min_profit
        if route.ppm is not None:
            floor = -(-a[0] * route.ppm // 1_000_000)
        m[last] = max(1, floor + draw(st.integers(-2, 2)))
    for _ in range(draw(st.integers(0, 2))):
        k = draw(st.integers(0, 2))
        field = draw(st.sampled_from(["a", "m"]))
        value = draw(st.sampled_from([0, 1, U64, 500_000_000_000]) | st.integers(0, U64))
        (a if field == "a" else m)[k] = value
    return rid, a, m


@pytest.fixture
def signer(
    instance: str, seg_name: Callable[[str], str], procs: Procs, tmp_path: Path
) -> Iterator[Signer]:
    yield Signer(instance, seg_name, procs, tmp_path)


def decode_legs(tx: VersionedTransaction) -> list[tuple[str, int, int | None]]:
    """The swap and transfer instructions of a signed transaction as (program, amount in,
    min out), read from their instruction data as each program's interface lays it out."""
    msg = tx.message
    legs: list[tuple[str, int, int | None]] = []
    for ix in msg.instructions:
        program = msg.account_keys[ix.program_id_index]
        data = bytes(ix.data)
        if program in (COMPUTE_BUDGET, SYSTEM):
            continue
        if program == RAYDIUM_V4:
            assert data[0] == 16  # SwapBaseInV2
            amount, min_out = struct.unpack_from("<QQ", data, 1)
            legs.append(("v4", amount, min_out))
        elif program == RAYDIUM_CPMM:
            assert data[:8] == anchor("swap_base_input")
            amount, min_out = struct.unpack_from("<QQ", data, 8)
            legs.append(("cpmm", amount, min_out))
        elif program == WHIRLPOOL:
            assert data[:8] == anchor("swap")
            amount, threshold = struct.unpack_from("<QQ", data, 8)
            assert data[40] == 1, "amount_specified_is_input"
            legs.append(("whirlpool", amount, threshold))
        elif program == SPL_TOKEN:
            assert data[0] == 3  # Transfer
            (amount,) = struct.unpack_from("<Q", data, 1)
            legs.append(("transfer", amount, None))
        else:
            raise AssertionError(f"unexpected program {program}")
    return legs


def check_signed_transaction(route: Route, legs: list[tuple[str, int, int | None]]) -> None:
    """Every rule, on what the transaction would do on chain."""
    assert len(legs) == len(route.legs), "one instruction per used leg, no more"
    outs = []
    for (program, amount, min_out), kind in zip(legs, route.legs, strict=True):
        assert (program == "transfer") == (kind == "transfer")
        assert amount > 0, "every leg sells something"
        if kind == "swap":
            assert min_out is not None and min_out > 0, "no leg sells at any price"
            outs.append(min_out)
        else:
            outs.append(amount)
    assert legs[0][1] <= route.max_in
    for k in range(1, len(legs)):
        assert legs[k][1] <= outs[k - 1], "a leg sells only what the previous guarantees"
    if route.cyclic:
        assert outs[-1] >= legs[0][1] + route.min_profit, "a cycle cannot lose tokens"
    if route.ppm is not None:
        assert outs[-1] * 1_000_000 >= legs[0][1] * route.ppm, "never below the worst price"


def test_random_intents_through_the_real_signer_obey_every_leg_rule(
    signer: Signer, instance: str
) -> None:
    write_keypair(signer.tmp / "id.json")
    signer.start(instance, config_text(signer.tmp / "id.json", signer.capture))
    pushed: dict[int, tuple[int, list[int], list[int]]] = {}
    verdicts: dict[str, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(st.lists(intents(), min_size=1, max_size=24))
    def run(batch: list[tuple[int, list[int], list[int]]]) -> None:
        first = len(pushed)
        now = _native.monotonic_ns()
        for rid, a, m in batch:
            seq = len(pushed)
            rec = np.zeros(1, dtype=ORDER_INTENT)[0]
            rec["seq"], rec["epoch"], rec["tick_seq"], rec["route_id"] = seq, 1, seq, rid
            for k in range(3):
                rec["amount_in"][k], rec["min_out"][k] = a[k], m[k]
            rec["cu_price_micro_lamports"] = 1234
            for f in ("t_tick_recv_ns", "t_tick_pub_ns", "t_strategy_read_ns", "t_intent_ns"):
                rec[f] = now
            assert signer.intents.push(rec)
            pushed[seq] = (rid, a, m)
        reports = signer.decided(len(pushed))
        final = {int(r["intent_seq"]): r for r in reports
                 if int(r["intent_seq"]) >= first
                 and r["status"] in (STATUS["SIGNED"], STATUS["REJECTED"])}  # fmt: skip
        for seq in range(first, len(pushed)):
            rid, a, m = pushed[seq]
            expected = first_broken_rule(ROUTES[rid], a, m)
            r = final[seq]
            got = None if r["status"] == STATUS["SIGNED"] else REASON_NAME[int(r["reason"])]
            assert got == expected, (rid, a, m)
            verdicts[got or "signed"] = verdicts.get(got or "signed", 0) + 1

    run()
    lines = signer.stop()
    signed = [seq for seq, (rid, a, m) in pushed.items()
              if first_broken_rule(ROUTES[rid], a, m) is None]  # fmt: skip
    assert sorted(ln["intent_seq"] for ln in lines) == signed
    for ln in lines:
        tx = VersionedTransaction.from_bytes(base64.b64decode(ln["tx"]))
        assert tx.verify_with_results() == [True]
        rid, a, m = pushed[ln["intent_seq"]]
        assert ln["route_id"] == rid
        legs = decode_legs(tx)
        check_signed_transaction(ROUTES[rid], legs)
        # ... and the transaction carries exactly the intent's amounts.
        for k, (_, amount, min_out) in enumerate(legs):
            assert amount == a[k] and min_out in (m[k], None)
    # The generator reached both sides of every rule.
    for name in ("signed", "zero_amount", "leg_amount_zero", "leg_min_out_zero",
                 "leg_chain_exceeds_min_out", "unused_leg_nonzero", "cycle_below_min_profit",
                 "below_min_price", "amount_over_route_max"):  # fmt: skip
        assert verdicts.get(name, 0) > 0, (name, verdicts)
    print(f"{len(pushed)} intents in {EXAMPLES} examples: {verdicts}")
