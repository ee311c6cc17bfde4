"""Test vectors for the Rust port of the two-pool / triangular arbitrage maths.

Run from the repository root (needs numba and the built extension):

    python bench/testdata/gen_arb_vectors.py > bench/testdata/arb_vectors.json

Every value comes from the numba functions themselves (``amm.cp_out``,
``amm.whirlpool_out``, ``amm.apply_slippage``, ``routes.route_optimal_in`` and the
``TwoPoolArb`` / ``TriangularArb`` kernels), on random but seeded pool states, so the Rust
port (``bench/src/allrust/amm.rs``, ``bench/src/allrust/arb.rs``) is checked against the kernel that
runs in the hybrid pipeline, not against a re-derivation of its formulas.
"""

from __future__ import annotations

import json
import random
import sys
from math import isqrt
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "strategy"))

import numpy as np
from numba import njit

from phantom_pipeline import amm
from phantom_pipeline.constants import (
    MARKET_POOL_UPDATE,
    POOL_ORCA_WHIRLPOOL,
    POOL_RAYDIUM_AMM_V4,
    POOL_RAYDIUM_CPMM,
)
from phantom_pipeline.schema import MARKET_UPDATE, ORDER_INTENT, POOL_STATE
from phantom_pipeline.strategies.arb import TriangularArb, TwoPoolArb
from phantom_pipeline.strategies.routes import route_optimal_in

U = np.uint64
M64 = 2**64 - 1
rng = random.Random(20240917)


@njit(cache=True)
def _run(kernel: Any, tick: Any, pools: Any, state: Any, params: Any, out: Any) -> int:
    return kernel(tick, pools, state, params, out)  # type: ignore[no-any-return]


# ------------------------------------------------------------------ single functions


def amm_cases() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    fees = [(25, 10_000), (2_500, 1_000_000), (0, 1_000_000), (30, 10_000), (1, 1), (5, 0)]
    for i in range(40):
        if i < 4:  # extremes: near-u64 reserves and amounts, wrapping r_in + net
            x = rng.choice([M64, 2**63, 2**62 + 12345, 1])
            r_in = rng.choice([M64, 2**63 + 7, 3, 10**18])
            r_out = rng.choice([M64, 2**63 - 1, 10**15])
        else:
            x = rng.randrange(0, 10 ** rng.randint(1, 16))
            r_in = rng.randrange(1, 10 ** rng.randint(3, 18))
            r_out = rng.randrange(1, 10 ** rng.randint(3, 18))
        num, den = rng.choice(fees)
        got = int(amm.cp_out(U(x), U(r_in), U(r_out), U(num), U(den)))
        out.append({"fn": "cp", "x": x, "r_in": r_in, "r_out": r_out, "num": num, "den": den,
                    "out": got})  # fmt: skip
    for i in range(60):
        if i < 6:  # extremes: u128 high words, huge liquidity, tiny liquidity
            s = rng.choice([2**127 + 3, 2**64 + 1, 2**70, 1, 2**40])
            liq = rng.choice([2**127 - 1, 2**100 + 5, 1, 7, 2**64])
            x = rng.choice([M64, 2**40, 1, 10**12])
        else:
            s = rng.randrange(2**40, 2**100)
            liq = rng.randrange(1, 2 ** rng.randint(20, 110))
            x = rng.randrange(0, 10 ** rng.randint(1, 16))
        a_to_b = rng.random() < 0.5
        fee = rng.choice([0, 100, 400, 3000, 10_000, 1_000_000])
        got = int(
            amm.whirlpool_out(U(x), a_to_b, U(s & M64), U(s >> 64), U(liq & M64), U(liq >> 64),
                              U(fee))
        )  # fmt: skip
        out.append({"fn": "wp", "x": x, "a_to_b": a_to_b, "s": str(s), "liq": str(liq),
                    "fee_ppm": fee, "out": got})  # fmt: skip
    for _ in range(10):
        x = rng.randrange(0, 2**64)
        bps = rng.choice([0, 1, 30, 9_999, 10_000, 20_000])
        out.append({"fn": "slip", "x": x, "bps": bps, "out": int(amm.apply_slippage(U(x), bps))})
    return out


# ------------------------------------------------------------------ kernel cases


def pool_row(kind: int, ra: int, rb: int, num: int, den: int, s: int = 0, liq: int = 0,
             ready: int = 1) -> dict[str, Any]:  # fmt: skip
    return {"kind": kind, "reserve_a": ra, "reserve_b": rb, "fee_num": num, "fee_den": den,
            "sqrt_price": str(s), "liquidity": str(liq), "ready": ready}  # fmt: skip


def pools_array(rows: list[dict[str, Any]]) -> np.ndarray:  # type: ignore[type-arg]
    p = np.zeros(len(rows), dtype=POOL_STATE)
    for i, r in enumerate(rows):
        s, liq = int(r["sqrt_price"]), int(r["liquidity"])
        p[i]["pool_kind"], p[i]["ready"] = r["kind"], r["ready"]
        p[i]["reserve_a"], p[i]["reserve_b"] = r["reserve_a"], r["reserve_b"]
        p[i]["fee_num"], p[i]["fee_den"] = r["fee_num"], r["fee_den"]
        p[i]["sqrt_price_lo"], p[i]["sqrt_price_hi"] = s & M64, s >> 64
        p[i]["liquidity_lo"], p[i]["liquidity_hi"] = liq & M64, liq >> 64
    return p


def rand_params() -> dict[str, Any]:
    return {
        "min_profit": rng.choice([0, 1, 1_000, 1_000, 100_000, 10**9]),
        "max_amount_in": rng.choice([10**12, 10**12, 10**12, 10**18, 10**8, 50_000]),
        "slippage_bps": rng.choice([0, 10, 20, 30, 100]),
        "cu_limit": rng.choice([200_000, 300_000]),
        "cu_price_micro_lamports": rng.choice([0, 1_000, 10_000]),
        "tip_lamports": rng.choice([0, 0, 10_000]),
        "base_fee_lamports": 5_000,
        "costs_in_input": rng.random() < 0.8,
    }


def cp_kind() -> int:
    return rng.choice([POOL_RAYDIUM_AMM_V4, POOL_RAYDIUM_CPMM])


def cp_fee() -> tuple[int, int]:
    return rng.choice([(25, 10_000), (2_500, 1_000_000), (500, 1_000_000), (0, 1_000_000)])


def skew(v: int, bps: int) -> int:
    return v * (10_000 + bps) // 10_000


def two_pool_case(i: int) -> dict[str, Any]:
    ra = rng.randrange(10**9, 10**15)
    price_num, price_den = rng.randrange(1, 10**4), rng.randrange(1, 10**3)
    rb = max(1, ra * price_num // price_den)
    if rb >= 2**63:
        rb = 2**63 - rng.randrange(1, 10**6)
    bps = rng.randint(-400, 400)
    whirl = i % 3 == 2
    rows = [pool_row(cp_kind(), ra, rb, *cp_fee())]
    if whirl:
        a2 = skew(ra, bps)
        s = isqrt(rb * 2**128 // a2)
        liq = isqrt(a2 * rb) * rng.choice([1, 1, 3])
        rows.append(pool_row(POOL_ORCA_WHIRLPOOL, 0, 0, rng.choice([400, 3000]), 1_000_000, s, liq))
    else:
        rows.append(pool_row(cp_kind(), skew(ra, bps), rb, *cp_fee()))
    if rng.random() < 0.3:  # a bystander pool no route touches
        rows.append(pool_row(cp_kind(), ra, rb, 25, 10_000))
    if rng.random() < 0.5:
        rows = rows[::-1] if len(rows) == 2 else rows
    routes = [[(0, True), (1, False)], [(1, True), (0, False)]]
    if rng.random() < 0.3:
        routes.append([(0, False), (1, True)])
    if rng.random() < 0.1:
        rows[rng.randrange(2)]["ready"] = 0
    if rng.random() < 0.05:
        rows[rng.randrange(2)]["fee_den"] = 0
    tick = rng.randrange(len(rows))
    return {"n_legs": 2, "pools": rows, "routes": routes, "tick": tick, "params": rand_params()}


def tri_case() -> dict[str, Any]:
    a = rng.randrange(10**10, 10**14)
    p1, p2 = rng.randint(1, 50), rng.randint(1, 50)
    bps = rng.randint(-300, 300)
    rows = [
        pool_row(cp_kind(), a, a * p1, *cp_fee()),
        pool_row(cp_kind(), a * p1, a * p1 * p2, *cp_fee()),
        pool_row(cp_kind(), skew(a * p1 * p2, bps), a, *cp_fee()),
    ]
    routes = [
        [(0, True), (1, True), (2, True)],
        [(2, False), (1, False), (0, False)],
        [(0, True), (1, False)],
    ]
    tick = rng.randrange(3)
    params = rand_params()
    params["slippage_bps"] = rng.choice([0, 5, 10])
    return {"n_legs": 3, "pools": rows, "routes": routes, "tick": tick, "params": params}


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    cls = TwoPoolArb if case["n_legs"] == 2 else TriangularArb
    routes = [{"legs": [{"pool": p, "direction": "a_to_b" if d else "b_to_a"} for p, d in r]}
              for r in case["routes"]]  # fmt: skip
    s = cls(cls.Params(**case["params"]), routes)
    pools = pools_array(case["pools"])
    state, params = s.make_state(len(pools)), s.params_array()
    tick = np.zeros(1, dtype=MARKET_UPDATE)
    tick["kind"], tick["pool_id"] = MARKET_POOL_UPDATE, case["tick"]
    out = np.zeros(1, dtype=ORDER_INTENT)
    n = _run(cls.kernel, tick[0], pools, state, params, out)
    case["optimal_in"] = [int(route_optimal_in(state, r, pools)) for r in range(len(routes))]
    if n == 0:
        case["intent"] = None
    else:
        o = out[0]
        case["intent"] = {
            "route_id": int(o["route_id"]),
            "amount_in": [int(v) for v in o["amount_in"]],
            "min_out": [int(v) for v in o["min_out"]],
            "cu_price_micro_lamports": int(o["cu_price_micro_lamports"]),
            "tip_lamports": int(o["tip_lamports"]),
            "expected_profit": int(o["expected_profit"]),
        }
    case["routes"] = [[[p, d] for p, d in r] for r in case["routes"]]
    return case


def kernel_cases() -> list[dict[str, Any]]:
    cases = [run_case(two_pool_case(i)) for i in range(42)]
    cases += [run_case(tri_case()) for _ in range(10)]
    return cases


def main() -> None:
    doc = {
        "generator": "bench/testdata/gen_arb_vectors.py",
        "amm": amm_cases(),
        "kernel": kernel_cases(),
    }
    fired = sum(c["intent"] is not None for c in doc["kernel"])
    print(f"{len(doc['kernel'])} kernel cases, {fired} with an intent", file=sys.stderr)
    json.dump(doc, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
