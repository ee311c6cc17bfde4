"""Stub of ``phantom_bench._micro`` (``bench/micro/src/lib.rs``): micro-benchmark bindings used by
``bench/tests/test_micro_decode_sign.py``."""

def micro_decode(kind: str, data: bytes, iterations: int) -> int:
    """Run one of the feeder's decoders over ``data`` ``iterations`` times in Rust (the GIL
    released) and return a checksum of the results (0 for 0 iterations, when nothing is
    decoded).

    ``kind`` is ``"token_amount"`` (``token::amount``, the vault hot path), ``"token_account"``
    (``TokenAccount::decode``), ``"raydium_amm_v4"`` (``AmmInfo::decode``), ``"raydium_cpmm"``
    (``CpmmPoolState::decode``), ``"orca_whirlpool"`` (``Whirlpool::decode``) or
    ``"pubsub_frame"`` (``pubsub::parse_frame`` + ``decode_data`` of an
    ``accountNotification`` frame's UTF-8 text).

    Raises ValueError for an unknown kind, negative ``iterations``, or data the decoder
    refuses (the message names the kind and the decoder's reason).
    """

def micro_sign(iterations: int, precomputed: bool = False) -> int:
    """Build a :class:`MicroSigner`, wait for its nonce pool (precomputed mode: a pool of
    ``min(iterations, 2**20)``; any further signatures fall back to RFC 8032), then run
    ``iterations`` patch + sign operations and return their checksum. The template build and
    the nonce wait are part of the call: time :meth:`MicroSigner.run` to time patch + sign
    alone.
    """

class MicroSigner:
    """The three-leg route template of ``phantom-signer-bench`` (signer/tests/data/
    three_leg_route.toml, fixed key seed) with an RFC 8032 or precomputed-nonce signer.
    Each :meth:`run` patches the trade fields and signs into wire bytes, in Rust."""

    def __init__(self, precomputed: bool = False, pool_size: int = 4096) -> None:
        """Build the template once; precomputed mode starts a nonce thread keeping up to
        ``pool_size`` (1 to 2**20) nonces ready. ValueError for a pool_size out of range."""

    def prepare(self, nonces: int, timeout_s: float = 60.0) -> int:
        """Wait (GIL released) until ``min(nonces, pool_size)`` nonces are ready or
        ``timeout_s`` passes; return how many are ready (0 in RFC 8032 mode)."""

    def run(self, iterations: int) -> int:
        """Patch + sign ``iterations`` times (GIL released) and return a checksum of the
        signatures and wire lengths: deterministic for RFC 8032, randomized (precomputed
        nonces) otherwise; 0 for 0 iterations. ValueError for negative ``iterations``."""

    @property
    def precomputed(self) -> bool:
        """Whether the signer uses precomputed nonces."""

    @property
    def pool_size(self) -> int:
        """Nonce pool capacity (0 in RFC 8032 mode)."""

    @property
    def nonces_ready(self) -> int:
        """Nonces ready now (0 in RFC 8032 mode)."""

    @property
    def signatures(self) -> tuple[int, int]:
        """``(precomputed, rfc8032)``: signatures made on each path so far."""

    @property
    def wire_len(self) -> int:
        """Bytes of the signed wire transaction."""
