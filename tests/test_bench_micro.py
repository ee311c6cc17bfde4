"""The extension's micro-benchmark bindings (``_micro.micro_decode``, ``MicroSigner``,
``micro_sign``): their error paths and the zero-iteration case. The benchmarks themselves are
``bench/test_micro_decode_sign.py``."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest

from conftest import FIXTURES
from phantom_bench import _micro

SNAPSHOTS = {
    "token_amount": ("spl_token_account-HLmqeL62.json", "SPL Token account"),
    "token_account": ("spl_token_account-HLmqeL62.json", "SPL Token account"),
    "raydium_amm_v4": ("raydium_amm_v4-58oQChx4.json", "Raydium AMM v4 AmmInfo"),
    "raydium_cpmm": ("raydium_cpmm-2higKRf2.json", "Raydium CPMM PoolState"),
    "orca_whirlpool": ("orca_whirlpool-Czfq3xZZ.json", "Orca Whirlpool"),
}


def _data(kind: str) -> bytes:
    snap = json.loads((FIXTURES / SNAPSHOTS[kind][0]).read_text())
    return base64.b64decode(snap["data_base64"])


def _frame(data_b64: str, method: str = "accountNotification") -> bytes:
    return (
        f'{{"jsonrpc":"2.0","method":"{method}","params":{{"result":{{"context":{{"slot":5}},'
        f'"value":{{"lamports":7,"data":["{data_b64}","base64"],'
        '"owner":"TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA","executable":false,'
        '"rentEpoch":0,"space":165}},"subscription":9}}'
    ).encode()


def test_unknown_kind_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r'unknown kind "no_such_decoder".*raydium_amm_v4'):
        _micro.micro_decode("no_such_decoder", b"", 1)
    # Checked before anything else, even with no iterations to run.
    with pytest.raises(ValueError, match="no_such_decoder"):
        _micro.micro_decode("no_such_decoder", b"", 0)


@pytest.mark.parametrize("kind", list(SNAPSHOTS))
def test_truncated_data_is_a_value_error_naming_the_decoder(kind: str) -> None:
    data = _data(kind)
    assert _micro.micro_decode(kind, data, 3) != 0
    decoder = SNAPSHOTS[kind][1]
    with pytest.raises(
        ValueError, match=rf'micro_decode\("{kind}"\): {decoder}: data is 100 bytes'
    ):
        _micro.micro_decode(kind, data[:100], 3)
    with pytest.raises(ValueError, match=decoder):
        _micro.micro_decode(kind, b"", 1)


def test_wrong_discriminator_is_a_value_error() -> None:
    data = bytearray(_data("orca_whirlpool"))
    data[0] ^= 0xFF
    with pytest.raises(ValueError, match=r"Orca Whirlpool: discriminator"):
        _micro.micro_decode("orca_whirlpool", bytes(data), 1)
    # A Whirlpool is not a CPMM pool (wrong length), nor a token account (bad option tag).
    with pytest.raises(ValueError, match="Raydium CPMM PoolState"):
        _micro.micro_decode("raydium_cpmm", _data("orca_whirlpool"), 1)


def test_pubsub_frame_errors_name_the_path() -> None:
    vault = base64.b64encode(_data("token_amount")).decode()
    good = _frame(vault)
    assert _micro.micro_decode("pubsub_frame", good, 2) != 0
    cases = [
        (good[:-10], "malformed frame"),
        (good.replace(b"accountNotification", b"blockNotification"), "unknown notification"),
        (_frame("!!!!" + vault[4:]), "not valid base64"),
        (_frame(base64.b64encode(bytes(20_000)).decode()), "exceeds the 16384-byte limit"),
        (b"\xff\xfe", "not UTF-8"),
        (
            b'{"jsonrpc":"2.0","method":"slotNotification","params":{"result":'
            b'{"parent":1,"root":0,"slot":2},"subscription":3}}',
            "expected an accountNotification frame",
        ),
    ]
    for frame, why in cases:
        with pytest.raises(ValueError, match=rf'micro_decode\("pubsub_frame"\): .*{why}'):
            _micro.micro_decode("pubsub_frame", frame, 1)


def test_zero_iterations_do_no_work() -> None:
    # Data no decoder accepts: with no iterations it is never decoded, so no error.
    for kind in [*SNAPSHOTS, "pubsub_frame"]:
        assert _micro.micro_decode(kind, b"\x00", 0) == 0
    assert _micro.MicroSigner().run(0) == 0
    assert _micro.micro_sign(0) == 0
    signer = _micro.MicroSigner()
    signer.run(0)
    assert signer.signatures == (0, 0)


def test_negative_iterations_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="iterations must be >= 0"):
        _micro.micro_decode("token_amount", _data("token_amount"), -1)
    with pytest.raises(ValueError, match="iterations must be >= 0"):
        _micro.MicroSigner().run(-5)
    with pytest.raises(ValueError, match="iterations must be >= 0"):
        _micro.micro_sign(-1)


def test_decode_checksum_is_deterministic_and_depends_on_the_data() -> None:
    for kind in SNAPSHOTS:
        data = _data(kind)
        a = _micro.micro_decode(kind, data, 50)
        assert a == _micro.micro_decode(kind, data, 50) != 0
        assert a != _micro.micro_decode(kind, data, 51)
    v1 = _data("token_amount")
    v2 = bytearray(v1)
    v2[64] ^= 1  # amount
    assert _micro.micro_decode("token_amount", v1, 1) != _micro.micro_decode(
        "token_amount", bytes(v2), 1
    )


def test_rfc8032_signer_is_deterministic() -> None:
    s = _micro.MicroSigner()
    assert not s.precomputed and s.pool_size == 0 and s.nonces_ready == 0
    assert s.prepare(10) == 0
    assert 200 < s.wire_len <= 1232
    a = s.run(20)
    assert a != 0 and s.run(20) == a == _micro.MicroSigner().run(20) == _micro.micro_sign(20)
    assert s.signatures == (0, 40)
    assert "precomputed=false" in repr(s)


def test_precomputed_signer_uses_its_pool() -> None:
    s = _micro.MicroSigner(precomputed=True, pool_size=32)
    assert s.precomputed and s.pool_size == 32
    assert s.prepare(1000, timeout_s=60) == 32  # capped at the pool size
    a, b = s.run(32), _micro.MicroSigner().run(32)
    assert a != 0 and a != b  # randomized nonces: other signatures than RFC 8032's
    assert s.signatures == (32, 0)
    assert _micro.micro_sign(8, precomputed=True) != 0


def test_signer_argument_errors() -> None:
    with pytest.raises(ValueError, match=r"pool_size must be in 1\.\.=1048576, got 0"):
        _micro.MicroSigner(precomputed=True, pool_size=0)
    with pytest.raises(ValueError, match="pool_size"):
        _micro.MicroSigner(precomputed=True, pool_size=1 << 21)
    with pytest.raises(ValueError, match="timeout_s must be >= 0"):
        _micro.MicroSigner(precomputed=True, pool_size=1).prepare(1, timeout_s=-1.0)


def test_loops_release_the_gil() -> None:
    """A thread keeps running while one long call is inside Rust."""
    data = _data("raydium_amm_v4")
    stamps: list[float] = []
    done = threading.Event()

    def tick() -> None:
        while not done.is_set():
            stamps.append(time.monotonic())
            time.sleep(0.001)

    n = 100_000
    while True:  # grow the call until it lasts long enough to see ticks inside it
        t0 = time.monotonic()
        _micro.micro_decode("raydium_amm_v4", data, n)
        if time.monotonic() - t0 > 0.1 or n > 10**9:
            break
        n *= 4
    t = threading.Thread(target=tick)
    t.start()
    try:
        while not stamps:
            time.sleep(0.001)
        t0 = time.monotonic()
        _micro.micro_decode("raydium_amm_v4", data, n)
        t1 = time.monotonic()
    finally:
        done.set()
        t.join()
    inside = [s for s in stamps if t0 + 0.01 < s < t1 - 0.01]
    assert len(inside) >= 3, (t1 - t0, len(stamps))
