"""numba intrinsics for the ring protocol: atomics, fences, pause, the clock, the futex.

Why intrinsics and not plain loads or ctypes:

* a plain load of ``tail`` inside a spin loop may be hoisted out of the loop by LLVM (nothing
  tells it another process writes the word); an atomic load with acquire ordering is what the
  protocol needs anyway (DESIGN §3.2);
* a ctypes call makes a numba function uncacheable, and ``cache=True`` is what makes a strategy
  swap fast: libc functions are declared inside the intrinsics instead (``clock_gettime``,
  ``syscall`` for the futex, ``sched_yield``), resolved by symbol name at load time;
* numpy and numba have no 128-bit integers, but LLVM does: ``mul_div_u64`` computes
  ``a * b // c`` exactly with an i128 intermediate.

Addresses are plain integers (``Segment.address`` + offset). Every intrinsic accepts any
integer type for them.
"""

from __future__ import annotations

import ctypes.util
import platform
from typing import Any

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_I128 = ir.IntType(128)

_MACHINE = platform.machine().lower()
_PAUSE_ARGS: tuple[int, ...]
if _MACHINE in ("x86_64", "amd64"):
    SYS_FUTEX = 202
    # LLVM intrinsics rather than inline asm: numba's cache writes object code through a
    # streamer without an asm parser, which rejects inline asm.
    _PAUSE_INTRINSIC, _PAUSE_ARGS = "llvm.x86.sse2.pause", ()
elif _MACHINE in ("aarch64", "arm64"):
    SYS_FUTEX = 98
    _PAUSE_INTRINSIC, _PAUSE_ARGS = "llvm.aarch64.hint", (1,)  # hint #1 is YIELD
else:  # pragma: no cover - only x86-64 and aarch64 are supported targets
    raise ImportError(f"phantom_pipeline.atomics: unsupported machine {_MACHINE!r}")

# LLVM lowers a runtime i128 division to a call to __udivti3 (compiler runtime). numba's JIT
# resolves external symbols by name from the libraries loaded in the process, and libgcc_s is
# not always among them: load it explicitly, or the call jumps to address 0.
try:
    llvm.load_library_permanently(ctypes.util.find_library("gcc_s") or "libgcc_s.so.1")
except RuntimeError as exc:  # pragma: no cover - every glibc system ships libgcc_s
    raise ImportError(
        f"phantom_pipeline.atomics needs libgcc_s for 128-bit division: {exc}"
    ) from exc

FUTEX_WAIT = 0  # shared (no FUTEX_PRIVATE_FLAG): the waker is another process
FUTEX_WAKE = 1
CLOCK_MONOTONIC = 1


def _ptr(builder: ir.IRBuilder, addr: ir.Value, ty: ir.Type) -> ir.Value:
    return builder.inttoptr(addr, ty.as_pointer())


def _as_i64(context: Any, builder: ir.IRBuilder, val: ir.Value, fromty: types.Type) -> ir.Value:
    return context.cast(builder, val, fromty, types.int64)


def _addr_ok(addr: types.Type) -> bool:
    return isinstance(addr, types.Integer)


def _atomic_load(bits: int, ordering: str, doc: str) -> Any:
    """An intrinsic ``f(addr) -> int64``: an atomic ``bits``-wide load (zero-extended)."""
    ity = ir.IntType(bits)

    @intrinsic
    def load(typingctx: Any, addr: types.Type) -> Any:
        if not _addr_ok(addr):
            return None

        def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
            a = _as_i64(context, builder, args[0], sig.args[0])
            v = builder.load_atomic(_ptr(builder, a, ity), ordering, bits // 8)
            return v if bits == 64 else builder.zext(v, _I64)

        return types.int64(addr), codegen

    load.__doc__ = doc
    return load


def _atomic_store(bits: int, ordering: str, doc: str) -> Any:
    """An intrinsic ``f(addr, value)``: an atomic ``bits``-wide store (value truncated)."""
    ity = ir.IntType(bits)

    @intrinsic
    def store(typingctx: Any, addr: types.Type, val: types.Type) -> Any:
        if not (_addr_ok(addr) and isinstance(val, types.Integer)):
            return None

        def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
            a = _as_i64(context, builder, args[0], sig.args[0])
            v = _as_i64(context, builder, args[1], sig.args[1])
            if bits != 64:
                v = builder.trunc(v, ity)
            builder.store_atomic(v, _ptr(builder, a, ity), ordering, bits // 8)
            return context.get_dummy_value()

        return types.none(addr, val), codegen

    store.__doc__ = doc
    return store


load_acquire_i64 = _atomic_load(64, "acquire", "Atomic 64-bit load with acquire ordering.")
load_relaxed_i64 = _atomic_load(
    64, "monotonic", "Atomic 64-bit load, relaxed: never hoisted out of a loop, never torn."
)
load_relaxed_u32 = _atomic_load(32, "monotonic", "Atomic 32-bit load, relaxed, as int64.")
load_acquire_u32 = _atomic_load(32, "acquire", "Atomic 32-bit load with acquire ordering.")
store_release_i64 = _atomic_store(64, "release", "Atomic 64-bit store with release ordering.")
store_release_u32 = _atomic_store(32, "release", "Atomic 32-bit store with release ordering.")
store_relaxed_i64 = _atomic_store(64, "monotonic", "Atomic 64-bit store, relaxed.")
store_relaxed_u32 = _atomic_store(32, "monotonic", "Atomic 32-bit store, relaxed.")


def _atomic_cas(bits: int, doc: str) -> Any:
    """An intrinsic ``f(addr, expected, new) -> int64``: compare-exchange (acq_rel /
    acquire) on a ``bits``-wide word, returning the value found."""
    ity = ir.IntType(bits)

    @intrinsic
    def cas(typingctx: Any, addr: types.Type, expected: types.Type, new: types.Type) -> Any:
        if not (
            _addr_ok(addr)
            and isinstance(expected, types.Integer)
            and isinstance(new, types.Integer)
        ):
            return None

        def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
            a = _as_i64(context, builder, args[0], sig.args[0])
            e = _as_i64(context, builder, args[1], sig.args[1])
            n = _as_i64(context, builder, args[2], sig.args[2])
            if bits != 64:
                e, n = builder.trunc(e, ity), builder.trunc(n, ity)
            pair = builder.cmpxchg(_ptr(builder, a, ity), e, n, "acq_rel", "acquire")
            found = builder.extract_value(pair, 0)
            return found if bits == 64 else builder.zext(found, _I64)

        return types.int64(addr, expected, new), codegen

    cas.__doc__ = doc
    return cas


cas_i64 = _atomic_cas(64, "64-bit compare-exchange; returns the value found.")
cas_u32 = _atomic_cas(32, "32-bit compare-exchange; returns the value found (as int64).")


@intrinsic
def fetch_add_i64(typingctx: Any, addr: types.Type, val: types.Type) -> Any:
    """Atomic fetch-add (relaxed), for counters; returns the previous value."""
    if not (_addr_ok(addr) and isinstance(val, types.Integer)):
        return None

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
        a = _as_i64(context, builder, args[0], sig.args[0])
        v = _as_i64(context, builder, args[1], sig.args[1])
        return builder.atomic_rmw("add", _ptr(builder, a, _I64), v, "monotonic")

    return types.int64(addr, val), codegen


def _fence(ordering: str) -> Any:
    @intrinsic
    def fence_intrinsic(typingctx: Any) -> Any:
        def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
            builder.fence(ordering)
            return context.get_dummy_value()

        return types.none(), codegen

    return fence_intrinsic


fence_seqcst = _fence("seq_cst")
fence_seqcst.__doc__ = "Full (SeqCst) fence: the Dekker handshake of the wake-up protocol."
fence_acquire = _fence("acquire")
fence_acquire.__doc__ = "Acquire fence (seqlock reader)."
fence_release = _fence("release")
fence_release.__doc__ = "Release fence (seqlock writer)."


@intrinsic
def cpu_pause(typingctx: Any) -> Any:
    """One spin-loop hint (x86 ``pause``, aarch64 ``yield``)."""

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
        fnty = ir.FunctionType(ir.VoidType(), [_I32] * len(_PAUSE_ARGS))
        fn = cgutils.get_or_insert_function(builder.module, fnty, _PAUSE_INTRINSIC)
        builder.call(fn, [ir.Constant(_I32, a) for a in _PAUSE_ARGS])
        return context.get_dummy_value()

    return types.none(), codegen


@intrinsic
def monotonic_ns(typingctx: Any) -> Any:
    """CLOCK_MONOTONIC in ns via libc ``clock_gettime`` (the clock of every record)."""

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
        ts_ty = ir.LiteralStructType([_I64, _I64])
        ts = cgutils.alloca_once(builder, ts_ty)
        fnty = ir.FunctionType(_I32, [_I32, ts_ty.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "clock_gettime")
        builder.call(fn, [ir.Constant(_I32, CLOCK_MONOTONIC), ts])
        sec = builder.load(cgutils.gep_inbounds(builder, ts, 0, 0))
        nsec = builder.load(cgutils.gep_inbounds(builder, ts, 0, 1))
        return builder.add(builder.mul(sec, ir.Constant(_I64, 1_000_000_000)), nsec)

    return types.int64(), codegen


@intrinsic
def sched_yield(typingctx: Any) -> Any:
    """Give up the core (libc ``sched_yield``)."""

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_I32, []), "sched_yield"
        )
        builder.call(fn, [])
        return context.get_dummy_value()

    return types.none(), codegen


def _syscall(builder: ir.IRBuilder, args: list[ir.Value]) -> ir.Value:
    fnty = ir.FunctionType(_I64, [_I64], var_arg=True)
    fn = cgutils.get_or_insert_function(builder.module, fnty, "syscall")
    return builder.call(fn, args)


@intrinsic
def futex_wait(
    typingctx: Any, addr: types.Type, expected: types.Type, timeout_ns: types.Type
) -> Any:
    """Sleep while the u32 at ``addr`` equals ``expected``, at most ``timeout_ns`` (0: none)."""
    if not (
        _addr_ok(addr)
        and isinstance(expected, types.Integer)
        and isinstance(timeout_ns, types.Integer)
    ):
        return None

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
        a = _as_i64(context, builder, args[0], sig.args[0])
        e = _as_i64(context, builder, args[1], sig.args[1])
        t = _as_i64(context, builder, args[2], sig.args[2])
        ts_ty = ir.LiteralStructType([_I64, _I64])
        ts = cgutils.alloca_once(builder, ts_ty)
        billion = ir.Constant(_I64, 1_000_000_000)
        builder.store(builder.sdiv(t, billion), cgutils.gep_inbounds(builder, ts, 0, 0))
        builder.store(builder.srem(t, billion), cgutils.gep_inbounds(builder, ts, 0, 1))
        is_zero = builder.icmp_signed("<=", t, ir.Constant(_I64, 0))
        ts_int = builder.select(is_zero, ir.Constant(_I64, 0), builder.ptrtoint(ts, _I64))
        zero = ir.Constant(_I64, 0)
        rc = _syscall(
            builder,
            [ir.Constant(_I64, SYS_FUTEX), a, ir.Constant(_I64, FUTEX_WAIT), e, ts_int, zero, zero],
        )
        return rc

    return types.int64(addr, expected, timeout_ns), codegen


@intrinsic
def futex_wake(typingctx: Any, addr: types.Type) -> Any:
    """Wake every process sleeping on the u32 at ``addr``."""
    if not _addr_ok(addr):
        return None

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
        a = _as_i64(context, builder, args[0], sig.args[0])
        zero = ir.Constant(_I64, 0)
        return _syscall(
            builder,
            [
                ir.Constant(_I64, SYS_FUTEX),
                a,
                ir.Constant(_I64, FUTEX_WAKE),
                ir.Constant(_I64, 0x7FFFFFFF),
                zero,
                zero,
                zero,
            ],
        )

    return types.int64(addr), codegen


@intrinsic
def mul_div_u64(typingctx: Any, a: types.Type, b: types.Type, c: types.Type) -> Any:
    """``floor(a * b / c)`` on unsigned 64-bit values with an exact 128-bit product.

    The result is truncated to 64 bits; callers keep ``a * b / c < 2**64`` (true for every
    constant-product output, which is below the output reserve). ``c == 0`` returns 0.
    """
    if not all(isinstance(x, types.Integer) for x in (a, b, c)):
        return None

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
        vals = [
            builder.zext(context.cast(builder, v, t, types.uint64), _I128)
            for v, t in zip(args, sig.args, strict=True)
        ]
        prod = builder.mul(vals[0], vals[1])
        is_zero = builder.icmp_unsigned("==", vals[2], ir.Constant(_I128, 0))
        safe_c = builder.select(is_zero, ir.Constant(_I128, 1), vals[2])
        q = builder.udiv(prod, safe_c)
        q = builder.select(is_zero, ir.Constant(_I128, 0), q)
        return builder.trunc(q, _I64)

    return types.uint64(a, b, c), codegen


@intrinsic
def mul_div_ceil_u64(typingctx: Any, a: types.Type, b: types.Type, c: types.Type) -> Any:
    """``ceil(a * b / c)`` on unsigned 64-bit values, exact (128-bit product); c == 0 gives 0."""
    if not all(isinstance(x, types.Integer) for x in (a, b, c)):
        return None

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
        vals = [
            builder.zext(context.cast(builder, v, t, types.uint64), _I128)
            for v, t in zip(args, sig.args, strict=True)
        ]
        prod = builder.mul(vals[0], vals[1])
        is_zero = builder.icmp_unsigned("==", vals[2], ir.Constant(_I128, 0))
        safe_c = builder.select(is_zero, ir.Constant(_I128, 1), vals[2])
        one = ir.Constant(_I128, 1)
        num = builder.add(prod, builder.sub(safe_c, one))
        q = builder.udiv(num, safe_c)
        q = builder.select(is_zero, ir.Constant(_I128, 0), q)
        return builder.trunc(q, _I64)

    return types.uint64(a, b, c), codegen


def _mul_div_u128(round_up: bool, doc: str) -> Any:
    """An intrinsic ``f(a_lo, a_hi, b_lo, b_hi, c_lo, c_hi) -> (lo, hi)``: ``a * b / c`` on
    u128 values given as (lo, hi) u64 pairs, rounded down or up, with a 256-bit product (no
    overflow); the quotient is truncated to 128 bits; ``c == 0`` gives (0, 0)."""
    i256 = ir.IntType(256)

    @intrinsic
    def mul_div(
        typingctx: Any,
        a_lo: types.Type,
        a_hi: types.Type,
        b_lo: types.Type,
        b_hi: types.Type,
        c_lo: types.Type,
        c_hi: types.Type,
    ) -> Any:
        if not all(isinstance(x, types.Integer) for x in (a_lo, a_hi, b_lo, b_hi, c_lo, c_hi)):
            return None

        def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> ir.Value:
            def join(lo: ir.Value, lt: Any, hi: ir.Value, ht: Any) -> ir.Value:
                lo64 = builder.zext(context.cast(builder, lo, lt, types.uint64), i256)
                hi64 = builder.zext(context.cast(builder, hi, ht, types.uint64), i256)
                return builder.or_(lo64, builder.shl(hi64, ir.Constant(i256, 64)))

            t = sig.args
            a = join(args[0], t[0], args[1], t[1])
            b = join(args[2], t[2], args[3], t[3])
            c = join(args[4], t[4], args[5], t[5])
            is_zero = builder.icmp_unsigned("==", c, ir.Constant(i256, 0))
            safe_c = builder.select(is_zero, ir.Constant(i256, 1), c)
            num = builder.mul(a, b)
            if round_up:
                num = builder.add(num, builder.sub(safe_c, ir.Constant(i256, 1)))
            q = builder.udiv(num, safe_c)
            q = builder.select(is_zero, ir.Constant(i256, 0), q)
            lo = builder.trunc(q, _I64)
            hi = builder.trunc(builder.lshr(q, ir.Constant(i256, 64)), _I64)
            return context.make_tuple(builder, sig.return_type, [lo, hi])

        ret = types.UniTuple(types.uint64, 2)
        return ret(a_lo, a_hi, b_lo, b_hi, c_lo, c_hi), codegen

    mul_div.__doc__ = doc
    return mul_div


mul_div_u128 = _mul_div_u128(False, "floor(a * b / c) on u128 (lo, hi) pairs; see the factory.")
mul_div_ceil_u128 = _mul_div_u128(True, "ceil(a * b / c) on u128 (lo, hi) pairs; see the factory.")
