"""The Python comparison systems of the end-to-end latency benchmark.

``python -m phantom_bench.e2e.pysystems --system NAME --config CONFIG.toml --out OUT.json``

Each system does the pipeline's work on the market stream of one PubSub connection: subscribe
to the pools' accounts and to slots, decode each notification, assemble pool states under the
feeder's two-vault rule, run ``TwoPoolArb``'s maths on every published state, and sign the
transaction the Rust signer would sign for the chosen route (``pycommon`` has the shared
parts). The systems differ in how the work is laid out:

``pure-python``
    one asyncio process: ``websockets``, ``json``, ``base64``, and ``solders`` building and
    signing the v0 transaction from instructions for every intent.
``pure-python-tuned``
    one process; each route's message is compiled once, the trade's fields are patched into
    the bytes, and libsodium (PyNaCl) signs.
``mp-queue``
    three processes, feeder -> strategy -> signer, connected by ``multiprocessing.Queue``.
``zmq-msgpack``
    the same three processes connected by ZeroMQ PUSH/PULL over ``ipc://`` with msgpack.

The process started prints ``READY`` once subscribed (every confirmation in), refetched and,
for the multi-process systems, once its children are up. On SIGTERM or SIGINT, or when the
connection closes, it stops reading, lets what was received drain through (at most
``DRAIN_S`` seconds), writes OUT (``pycommon.write_output``) and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import multiprocessing as mp
import os
import queue
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from time import monotonic, monotonic_ns
from typing import Any

from phantom_bench.e2e.pycommon import (
    Arb,
    E2EConfigError,
    Feeder,
    SoldersSigner,
    SystemConfig,
    TemplateSigner,
    Tick,
    get_multiple_accounts,
    latest_blockhash,
    load_config,
    write_output,
)

SYSTEMS = ("pure-python", "pure-python-tuned", "mp-queue", "zmq-msgpack")
#: After a stop, how long the children get to work through what was received.
DRAIN_S = 10.0
#: Subscriptions confirmed / children started within this long, or the system gives up.
SETUP_TIMEOUT_S = 60.0
#: How often a child waiting for work checks that its parent is still alive.
PARENT_CHECK_S = 1.0

_STOP = [False]


def _on_signal(signum: int, frame: Any) -> None:
    _STOP[0] = True


def _install_stop_handlers() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)


class SetupError(RuntimeError):
    """The system could not get ready (the message says why)."""


# ----------------------------------------------------------------------------- the feed


async def _feed(
    config: SystemConfig,
    feeder: Feeder,
    on_ticks: Callable[[list[Tick]], None],
    fast: bool,
) -> None:
    """Connect, subscribe, refetch, print READY, then handle frames until the connection
    closes (or the task is cancelled by a stop)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    extra: dict[str, Any] = {"compression": None} if fast else {}
    async with connect(config.ws, max_size=None, close_timeout=1, **extra) as ws:
        for request in feeder.subscribe_requests():
            await ws.send(request)
        deadline = monotonic() + SETUP_TIMEOUT_S
        while not feeder.subscribed:
            if feeder.setup_error is not None:
                raise SetupError(f"subscription refused: {feeder.setup_error}")
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise SetupError(f"subscriptions not confirmed within {SETUP_TIMEOUT_S:.0f} s")
            try:
                text = await asyncio.wait_for(ws.recv(), timeout=remaining)
            except ConnectionClosed as e:
                raise SetupError(f"connection closed during setup: {e}") from None
            except TimeoutError:
                continue
            on_ticks(feeder.on_frame(text, monotonic_ns()))
        # The table must be complete before trading: the Rust feeder refetches on connect.
        addresses = [w.address for w in config.watched]
        fetched = get_multiple_accounts(config.rpc, addresses, config.commitment)
        on_ticks(feeder.apply_refetch(fetched))
        print("READY", flush=True)
        handle = feeder.on_frame
        try:
            async for text in ws:
                on_ticks(handle(text, monotonic_ns()))
        except ConnectionClosed:
            pass


async def _run_until_stopped(
    config: SystemConfig,
    feeder: Feeder,
    on_ticks: Callable[[list[Tick]], None],
    fast: bool,
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if _STOP[0]:
        stop.set()
    feed = asyncio.create_task(_feed(config, feeder, on_ticks, fast))
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait({feed, waiter}, return_when=asyncio.FIRST_COMPLETED)
    stopped = stop.is_set()
    for task in (feed, waiter):
        task.cancel()
    results = await asyncio.gather(feed, waiter, return_exceptions=True)
    err = results[0]
    if isinstance(err, SetupError) and not stopped:
        raise err
    if isinstance(err, Exception) and not isinstance(err, SetupError):
        raise err


def _feed_until_stopped(
    config: SystemConfig, feeder: Feeder, on_ticks: Callable[[list[Tick]], None], fast: bool
) -> None:
    try:
        asyncio.run(_run_until_stopped(config, feeder, on_ticks, fast))
    finally:
        # asyncio restores the default handlers on exit: a second signal must not kill the
        # drain or the writing of OUT.
        _install_stop_handlers()


# ----------------------------------------------------------------------------- one process


def run_single(config: SystemConfig, system: str, out: Path) -> int:
    tuned = system == "pure-python-tuned"
    blockhash = latest_blockhash(config.rpc)
    signer: TemplateSigner | SoldersSigner = (
        TemplateSigner(config.routes, config.keypair, blockhash)
        if tuned
        else SoldersSigner(config.routes, config.keypair, blockhash)
    )
    sign = signer.sign
    arb = Arb(config.routes, config.params, len(config.pools))
    on_tick = arb.on_tick
    feeder = Feeder(config, fast=tuned)
    signed: list[list[int]] = []
    intents = 0

    def on_ticks(ticks: list[Tick]) -> None:
        nonlocal intents
        for pool_id, state, frame_idx, t_recv, t_decoded in ticks:
            intent = on_tick(pool_id, state)
            if intent is None:
                continue
            t_decision = monotonic_ns()
            intents += 1
            if frame_idx < 0 or sign(intent) is None:
                continue
            signed.append([frame_idx, t_recv, t_decoded, t_decision, monotonic_ns()])

    _feed_until_stopped(config, feeder, on_ticks, tuned)
    write_output(out, system, frames=feeder.frames, ticks=feeder.ticks, intents=intents,
                 signed=signed, pids={"main": os.getpid()}, errors=feeder.errors)  # fmt: skip
    return 0


# ----------------------------------------------------------------------------- three processes


#: Set in a child by SIGUSR1: the drain deadline passed, report what was done so far.
_URGENT = [False]


def _on_urgent(signum: int, frame: Any) -> None:
    _URGENT[0] = True


def _child_setup() -> None:
    # Children stop on the end-of-stream marker from upstream (or when the parent is gone),
    # never on SIGTERM/SIGINT: the parent drains them in order. SIGUSR1 cuts the drain short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _on_urgent)


def _orphaned(parent: int) -> bool:
    return os.getppid() != parent


def _strategy_queue(config: SystemConfig, ticks: Any, intents: Any, ctrl: Any, parent: int) -> None:
    _child_setup()
    arb = Arb(config.routes, config.params, len(config.pools))
    on_tick = arb.on_tick
    ctrl.put(("ready", "strategy", os.getpid()))
    get, put = ticks.get, intents.put
    n = 0
    while not _URGENT[0]:
        try:
            tick = get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if _orphaned(parent):
                intents.cancel_join_thread()
                ctrl.cancel_join_thread()
                return
            continue
        if tick is None:
            break
        pool_id, state, frame_idx, t_recv, t_decoded = tick
        intent = on_tick(pool_id, state)
        if intent is None:
            continue
        t_decision = monotonic_ns()
        n += 1
        if frame_idx >= 0:
            put((frame_idx, t_recv, t_decoded, t_decision, intent))
    put(None)
    ctrl.put(("done", "strategy", {"intents": n}))


def _signer_queue(
    config: SystemConfig, blockhash: bytes, intents: Any, ctrl: Any, parent: int
) -> None:
    _child_setup()
    sign = TemplateSigner(config.routes, config.keypair, blockhash).sign
    ctrl.put(("ready", "signer", os.getpid()))
    get = intents.get
    signed: list[list[int]] = []
    while not _URGENT[0]:
        try:
            msg = get(timeout=PARENT_CHECK_S)
        except queue.Empty:
            if _orphaned(parent):
                ctrl.cancel_join_thread()
                return
            continue
        if msg is None:
            break
        frame_idx, t_recv, t_decoded, t_decision, intent = msg
        if sign(intent) is None:
            continue
        signed.append([frame_idx, t_recv, t_decoded, t_decision, monotonic_ns()])
    ctrl.put(("done", "signer", {"signed": signed}))


def _msgpack() -> Any:
    """The msgpack module (imported by name: it ships no type information)."""
    return importlib.import_module("msgpack")


def _zmq_socket(ctx: Any, kind: int, addr: str, bind: bool) -> Any:
    import zmq

    s = ctx.socket(kind)
    # Unbounded like a multiprocessing queue: a slow stage never blocks or drops upstream.
    s.setsockopt(zmq.SNDHWM, 0)
    s.setsockopt(zmq.RCVHWM, 0)
    if kind == zmq.PULL:
        s.setsockopt(zmq.RCVTIMEO, int(PARENT_CHECK_S * 1000))
    if bind:
        s.bind(addr)
    else:
        s.connect(addr)
    return s


def _strategy_zmq(
    config: SystemConfig, ticks_addr: str, intents_addr: str, ctrl: Any, parent: int
) -> None:
    import zmq

    msgpack = _msgpack()

    _child_setup()
    arb = Arb(config.routes, config.params, len(config.pools))
    on_tick = arb.on_tick
    ctx = zmq.Context()
    pull = _zmq_socket(ctx, zmq.PULL, ticks_addr, bind=True)
    push = _zmq_socket(ctx, zmq.PUSH, intents_addr, bind=False)
    ctrl.put(("ready", "strategy", os.getpid()))
    recv, send = pull.recv, push.send
    packb, unpackb = msgpack.packb, msgpack.unpackb
    n = 0
    orphan = False
    while not _URGENT[0]:
        try:
            raw = recv()
        except zmq.Again:
            if orphan := _orphaned(parent):
                break
            continue
        tick = unpackb(raw, use_list=False)
        if tick is None:
            break
        pool_id, state, frame_idx, t_recv, t_decoded = tick
        intent = on_tick(pool_id, state)
        if intent is None:
            continue
        t_decision = monotonic_ns()
        n += 1
        if frame_idx >= 0:
            send(packb((frame_idx, t_recv, t_decoded, t_decision, intent)))
    if not orphan:
        send(packb(None))
    push.close(linger=0 if orphan else int(DRAIN_S * 1000))
    pull.close(linger=0)
    ctx.term()
    if orphan:
        ctrl.cancel_join_thread()
    else:
        ctrl.put(("done", "strategy", {"intents": n}))


def _signer_zmq(
    config: SystemConfig, blockhash: bytes, intents_addr: str, ctrl: Any, parent: int
) -> None:
    import zmq

    msgpack = _msgpack()
    _child_setup()
    sign = TemplateSigner(config.routes, config.keypair, blockhash).sign
    ctx = zmq.Context()
    pull = _zmq_socket(ctx, zmq.PULL, intents_addr, bind=True)
    ctrl.put(("ready", "signer", os.getpid()))
    recv, unpackb = pull.recv, msgpack.unpackb
    signed: list[list[int]] = []
    orphan = False
    while not _URGENT[0]:
        try:
            raw = recv()
        except zmq.Again:
            if orphan := _orphaned(parent):
                break
            continue
        msg = unpackb(raw, use_list=False)
        if msg is None:
            break
        frame_idx, t_recv, t_decoded, t_decision, intent = msg
        if sign(intent) is None:
            continue
        signed.append([frame_idx, t_recv, t_decoded, t_decision, monotonic_ns()])
    pull.close(linger=0)
    ctx.term()
    if orphan:
        ctrl.cancel_join_thread()
    else:
        ctrl.put(("done", "signer", {"signed": signed}))


def _await_ready(ctrl: Any, proc: Any, role: str) -> None:
    deadline = monotonic() + SETUP_TIMEOUT_S
    while monotonic() < deadline:
        try:
            msg = ctrl.get(timeout=0.2)
        except queue.Empty:
            if not proc.is_alive():
                raise SetupError(f"{role} process exited with {proc.exitcode}") from None
            continue
        if msg[0] == "ready" and msg[1] == role:
            return
    raise SetupError(f"{role} process not ready within {SETUP_TIMEOUT_S:.0f} s")


def _gather(ctrl: Any, procs: Sequence[Any], deadline: float, done: dict[str, Any]) -> None:
    """Collect the children's final reports into ``done``, until both are in, both have
    exited with nothing left to read, or the deadline passes."""
    while len(done) < 2 and monotonic() < deadline:
        try:
            kind, role, payload = ctrl.get(timeout=max(0.01, min(0.2, deadline - monotonic())))
        except queue.Empty:
            if not any(p.is_alive() for p in procs):
                # An exited child's last message is already in the pipe: one more look.
                with contextlib.suppress(queue.Empty):
                    kind, role, payload = ctrl.get(timeout=0.2)
                    if kind == "done":
                        done[role] = payload
                    continue
                break
            continue
        if kind == "done":
            done[role] = payload


def _reap(procs: Sequence[Any], deadline: float) -> None:
    for p in procs:
        p.join(timeout=max(0.0, deadline - monotonic()))
    for p in procs:
        if p.is_alive():  # children ignore SIGTERM (they stop on end-of-stream): kill
            p.kill()
            p.join(timeout=5)


def run_multi(config: SystemConfig, system: str, out: Path) -> int:
    blockhash = latest_blockhash(config.rpc)
    ctx = mp.get_context("fork")
    ctrl = ctx.Queue()
    parent = os.getpid()
    tmpdir: str | None = None
    procs: list[Any] = []
    zctx: Any = None
    push: Any = None
    ticks_q: Any = None
    try:
        if system == "mp-queue":
            ticks_q = ctx.Queue()
            intents_q = ctx.Queue()
            signer = ctx.Process(target=_signer_queue, name="signer",
                                 args=(config, blockhash, intents_q, ctrl, parent))  # fmt: skip
            strategy = ctx.Process(target=_strategy_queue, name="strategy",
                                   args=(config, ticks_q, intents_q, ctrl, parent))  # fmt: skip
            procs = [signer, strategy]
            signer.start()
            _await_ready(ctrl, signer, "signer")
            strategy.start()
            _await_ready(ctrl, strategy, "strategy")
            put = ticks_q.put

            def send(tick: Tick) -> None:
                put(tick)

            def end() -> None:
                put(None)

        else:
            import zmq

            msgpack = _msgpack()
            tmpdir = tempfile.mkdtemp(prefix="phantom-e2e-zmq-")
            t_addr, i_addr = f"ipc://{tmpdir}/ticks", f"ipc://{tmpdir}/intents"
            signer = ctx.Process(target=_signer_zmq, name="signer",
                                 args=(config, blockhash, i_addr, ctrl, parent))  # fmt: skip
            strategy = ctx.Process(target=_strategy_zmq, name="strategy",
                                   args=(config, t_addr, i_addr, ctrl, parent))  # fmt: skip
            procs = [signer, strategy]
            signer.start()
            _await_ready(ctrl, signer, "signer")
            strategy.start()
            _await_ready(ctrl, strategy, "strategy")
            zctx = zmq.Context()
            push = _zmq_socket(zctx, zmq.PUSH, t_addr, bind=False)
            zsend, packb = push.send, msgpack.packb

            def send(tick: Tick) -> None:
                zsend(packb(tick))

            def end() -> None:
                zsend(packb(None))

        feeder = Feeder(config, fast=True)

        def on_ticks(ticks: list[Tick]) -> None:
            for tick in ticks:
                send(tick)

        _feed_until_stopped(config, feeder, on_ticks, True)
        end()
        done: dict[str, Any] = {}
        _gather(ctrl, procs, monotonic() + DRAIN_S, done)
        if len(done) < 2:  # the drain deadline passed: report what was done so far
            for p in procs:
                if p.is_alive() and p.pid is not None:
                    os.kill(p.pid, signal.SIGUSR1)
            _gather(ctrl, procs, monotonic() + 5.0, done)
        _reap(procs, monotonic() + 5.0)
        if push is not None:
            push.close(linger=0)
            zctx.term()
            push = None
        write_output(
            out, system, frames=feeder.frames, ticks=feeder.ticks,
            intents=int(done.get("strategy", {}).get("intents", 0)),
            signed=done.get("signer", {}).get("signed", []),
            pids={"feeder": parent, "strategy": int(strategy.pid or 0),
                  "signer": int(signer.pid or 0)},
            errors=feeder.errors + (2 - len(done)),
        )  # fmt: skip
        return 0
    finally:
        if push is not None:
            push.close(linger=0)
            zctx.term()
        _reap(procs, monotonic())
        if ticks_q is not None:  # everything was read (or its reader is gone): never block
            ticks_q.cancel_join_thread()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


# ----------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m phantom_bench.e2e.pysystems",
        description="A Python comparison system of the end-to-end latency benchmark.",
    )
    ap.add_argument("--system", required=True, choices=SYSTEMS)
    ap.add_argument("--config", required=True, type=Path, help="the pipeline's TOML config")
    ap.add_argument("--out", required=True, type=Path, help="result JSON to write at stop")
    a = ap.parse_args(argv)
    _install_stop_handlers()
    try:
        config = load_config(a.config)
        if a.system in ("pure-python", "pure-python-tuned"):
            return run_single(config, a.system, a.out)
        return run_multi(config, a.system, a.out)
    except (E2EConfigError, SetupError, OSError) as e:
        print(f"pysystems: {a.system}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
