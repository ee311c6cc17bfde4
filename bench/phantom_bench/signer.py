"""The signer benchmark: the Rust hot path (``phantom-signer-bench``) beside PyNaCl
(libsodium) and solders signing the very same message bytes with the same key, in one run.

Targets (issue: signer): intent read → signed p50 within 1.1x of a bare RFC 8032 sign;
≤ 5 µs with the precomputed-nonce signer.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

from phantom_bench import tool


def _pct(samples: list[int]) -> dict[str, int]:
    s = sorted(samples)
    return {"samples": len(s), "p50_ns": s[len(s) // 2], "p99_ns": s[int(len(s) * 0.99)],
            "max_ns": s[-1]}  # fmt: skip


def _time(n: int, f: Callable[[], Any]) -> dict[str, int]:
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        f()
        out.append(time.perf_counter_ns() - t)
    return _pct(out)


def run(samples: int = 20_000) -> dict[str, Any]:
    """Run the signer benchmark; Python baselines are skipped (with the reason) when their
    package is not installed."""
    p = subprocess.run([str(tool("phantom-signer-bench")), "--samples", str(samples)],
                       capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    if p.returncode != 0:
        raise RuntimeError(f"phantom-signer-bench failed: {p.stderr.strip()}")
    rust = json.loads(p.stdout)
    message = bytes.fromhex(rust.pop("message_hex"))
    seed = bytes.fromhex(rust.pop("seed_hex"))
    py_samples = max(100, samples // 4)
    python: dict[str, Any] = {}
    try:
        from nacl.signing import SigningKey

        nacl_key = SigningKey(seed)
        python["pynacl_sign"] = _time(py_samples, lambda: nacl_key.sign(message))
    except ImportError:
        python["pynacl_sign"] = {"skipped": "pynacl is not installed"}
    try:
        from solders.keypair import Keypair

        kp = Keypair.from_seed(seed)
        python["solders_sign"] = _time(py_samples, lambda: kp.sign_message(message))
    except ImportError:
        python["solders_sign"] = {"skipped": "solders is not installed"}
    bare = rust["bare_sign"]["p50_ns"]
    ratios = {
        "intent_to_signed_p50_over_bare_sign_p50": round(
            rust["intent_to_signed"]["p50_ns"] / bare, 3
        ),
        "precomputed_p50_us": round(rust["sign_into_precomputed"]["p50_ns"] / 1e3, 3),
    }
    targets = {
        "intent_to_signed_within_1.1x_of_bare_sign": ratios[
            "intent_to_signed_p50_over_bare_sign_p50"
        ]
        <= 1.1,
        "precomputed_at_most_5us": ratios["precomputed_p50_us"] <= 5.0,
    }
    return {"rust": rust, "python": python, "ratios": ratios, "targets": targets}
