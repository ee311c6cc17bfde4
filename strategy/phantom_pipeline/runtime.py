"""The strategy process: warm up, take the lease, run the kernel over the market ring.

``python -m phantom_pipeline.runtime --instance NAME --strategy MODULE:CLASS [--params F]``

Order of events (DESIGN §5):

1. attach the instance's segments (validated against this build);
2. with ``--sandbox`` (the supervisor's default), enter the sandbox: Landlock and seccomp
   (``phantom_pipeline.sandbox``), after checking the process is single-threaded;
3. only then import the strategy, validate its params, build its runner, and warm the JIT on
   process-private memory (compile, or load from numba's cache) — never on a live tick, never
   on the live segments;
4. take the lease: if it is free or released, take it; if another strategy holds it, ask it
   to step down (``STEP_DOWN_REQUESTED``) and wait until it has (``RELEASED``); the
   supervisor kills and reaps a holder that does not step down in time, then releases for it;
5. with the epoch bumped, rebuild the pool view from the ``pools`` table, then consume the
   market ring from the shared ``head``: exactly the next tick after the old holder's last;
6. between batches: heartbeat, counters, params reload, stop and step-down requests. Stepping
   down publishes the last tick consumed and the intent seq bound, then releases the lease;
   the process writes no ring after that and exits.

Exit codes: 0 after a stop or a step-down, 2 for a bad strategy/params/segment (nothing was
written to any ring), 3 when the lease could not be had.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from phantom_pipeline import _native, ringops, sandbox
from phantom_pipeline.constants import (
    EXEC_FAILED,
    EXEC_LANDED,
    EXEC_REJECTED,
    LEASE_FREE,
    LEASE_HELD,
    LEASE_RELEASED,
    LEASE_STEP_DOWN_REQUESTED,
    MARKET_HEARTBEAT,
)
from phantom_pipeline.control import Control
from phantom_pipeline.errors import SegmentError
from phantom_pipeline.runner import (
    C_INTENTS,
    C_INTENTS_DROPPED,
    C_LAST_TICK,
    C_REPORTS,
    C_REPORTS_TERMINAL,
    C_TICKS,
    N_COUNTERS,
    build_runner,
)
from phantom_pipeline.sandbox import Grants, SandboxError
from phantom_pipeline.schema import ORDER_INTENT
from phantom_pipeline.segments import (
    HEADER_SIZE,
    RingEnd,
    SegmentView,
    anonymous,
    attach_ring,
    attach_table,
)
from phantom_pipeline.strategy import Strategy, StrategyError, fill_params, load_strategy_class

log = logging.getLogger("phantom.strategy")

#: The longest wait of one batch on a quiet market, in idle timeouts (``--idle-timeout-ms``):
#: a step-down or stop request is seen within this (a swap's handover gap is not: it runs
#: from the release to the next acquire).
IDLE_BACKOFF = 5

#: How long an intent waits for room in a full intents ring before it is dropped (counted),
#: by default (``--intents-full-timeout-ms``).
INTENTS_FULL_TIMEOUT_MS = 2

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_NO_LEASE = 3


segment_name = _native.segment_name


@njit(cache=True)
def drain_reports(rep: Any, rep_slots: Any, counters: Any, max_n: int) -> int:
    """Consume up to ``max_n`` execution reports; count them and their terminal states."""
    n = min(ringops.available(rep), max_n)
    mask = rep[ringops.ST_CAP] - 1
    base = rep[ringops.ST_OWN]
    for j in range(n):
        status = rep_slots[(base + j) & mask].status
        counters[5] += 1
        if status in (EXEC_LANDED, EXEC_FAILED, EXEC_REJECTED):
            counters[6] += 1
    if n > 0:
        ringops.release(rep, n)
    return n


@dataclass
class Options:
    instance: str
    strategy: str
    params: Path | None
    config: Path | None
    wait: str
    batch: int
    lease_timeout_s: float
    idle_timeout_ms: int
    intents_full_timeout_ms: float = INTENTS_FULL_TIMEOUT_MS
    sandbox: Grants | None = None


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except OSError as e:
        raise StrategyError(f"{what} {path}: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise StrategyError(f"{what} {path}: not valid TOML: {e}") from e


def load_params(cls: type[Strategy], path: Path | None) -> Any:
    """Params from a TOML file: the ``[params]`` table if present, else the whole file."""
    if path is None:
        return cls.Params()
    data = _read_toml(path, "params file")
    table = data.get("params", data)
    if not isinstance(table, dict):
        raise StrategyError(f"params file {path}: [params] must be a table")
    return cls.parse_params(table)


def load_routes(path: Path | None) -> list[dict[str, Any]]:
    """The ``[[routes]]`` of the instance config (route id = position), or none."""
    if path is None:
        return []
    routes = _read_toml(path, "config file").get("routes", [])
    if not isinstance(routes, list) or not all(isinstance(r, dict) for r in routes):
        raise StrategyError(f"config file {path}: routes must be an array of tables ([[routes]])")
    return routes


class Kernel:
    """A strategy with its runner, buffers and warm JIT."""

    def __init__(self, strategy: Strategy, n_pools: int) -> None:
        self.strategy = strategy
        self.runner = build_runner(type(strategy))
        self.state = strategy.make_state(n_pools)
        self.params = strategy.params_array()
        self.out = np.zeros(type(strategy).max_intents_per_tick, dtype=ORDER_INTENT)
        self.out_bytes = self.out.view(np.uint8).reshape(len(self.out), ORDER_INTENT.itemsize)
        self.counters = np.zeros(N_COUNTERS, dtype=np.int64)
        self.counters[C_LAST_TICK] = -1

    def batch(
        self,
        mkt: RingEnd,
        pools: SegmentView,
        pools_local: np.ndarray[Any, Any],
        intents: RingEnd,
        epoch: int,
        opts: Options,
        timeout_ns: int,
    ) -> int:
        words = pools_local.view(np.int64).reshape(len(pools_local), -1)
        # ``adaptive`` is the learned spin window (ringbuf/src/learn.rs).
        wait_kind = ringops.WAIT_SPIN if opts.wait == "spin" else ringops.WAIT_LEARNED
        return int(
            self.runner.run_batch(
                mkt.state, mkt.slots, pools.address + HEADER_SIZE, pools.record_size, words,
                pools_local, self.state, self.params, self.out, self.out_bytes,
                intents.state, intents.slots, intents.slot_bytes, epoch, opts.batch,
                wait_kind, ringops.LEARNED_MAX_SPIN_NS, ringops.LEARNED_WAKE_COST_NS,
                50_000_000, timeout_ns, int(opts.intents_full_timeout_ms * 1e6), self.counters,
            )
        )  # fmt: skip

    def warm(self, n_pools: int, opts: Options) -> float:
        """Compile (or load from cache) on process-private memory laid out like the
        segments, never on the live ones; returns seconds taken."""
        t0 = time.monotonic()
        mkt_v = anonymous("MarketUpdate", "ring", 8)
        int_v = anonymous("OrderIntent", "ring", 8)
        rep_v = anonymous("ExecReport", "ring", 8)
        pools_v = anonymous("PoolState", "table", max(n_pools, 1))
        tx = RingEnd(mkt_v, "producer")
        tick = np.zeros(1, dtype=mkt_v.slots.dtype)
        tick["kind"] = MARKET_HEARTBEAT
        tx.push(tick[0])
        mkt = RingEnd(mkt_v, "consumer")
        intents = RingEnd(int_v, "producer")
        local = np.zeros(max(n_pools, 1), dtype=pools_v.slots.dtype)
        saved = self.counters.copy()
        self.batch(mkt, pools_v, local, intents, 0, opts, 1_000_000)
        self.counters[:] = saved
        rep = RingEnd(rep_v, "consumer")
        drain_reports(rep.state, rep.slots, self.counters.copy(), 1)
        return time.monotonic() - t0


class Runtime:
    """One strategy process attached to one instance."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.pid = os.getpid()

    def prepare(self) -> None:
        """Everything that can fail before the lease, in the sandbox's order: segments, then
        the sandbox, then the user's code (strategy, params), then the JIT."""
        o = self.opts
        if o.sandbox is not None:
            sandbox.assert_single_threaded()
        inst = o.instance
        # Only the strategy's own control table is writable here, and the pools table (which
        # only the feeder writes) is read-only: both from O_RDONLY descriptors, so the
        # sandboxed code can never make them writable.
        self.control = Control.attach(inst, "strategy")
        self.pools = attach_table(segment_name(inst, "pools"), "PoolState", read_only=True)
        self.market_view = attach_ring(segment_name(inst, "market"), "MarketUpdate")
        self.intents_view = attach_ring(segment_name(inst, "intents"), "OrderIntent")
        self.reports_view = attach_ring(segment_name(inst, "reports"), "ExecReport")
        routes = load_routes(o.config)
        if o.sandbox is not None:
            abi = sandbox.enter(o.sandbox)
            log.info("sandboxed (Landlock ABI %d, seccomp)", abi)
        self.cls = load_strategy_class(o.strategy)
        self.strategy = self.cls(load_params(self.cls, o.params), routes)
        try:
            self.kernel = Kernel(self.strategy, self.pools.capacity)
            took = self.kernel.warm(self.pools.capacity, o)
        except (StrategyError, SegmentError):
            raise
        except Exception as e:  # numba typing/lowering errors, errors raised by user code
            raise StrategyError(
                f"{o.strategy}: failed to compile or warm up: {type(e).__name__}: {e}"
            ) from e
        log.info("%s warmed in %.3f s", o.strategy, took)

    def acquire_lease(self) -> tuple[int, int]:
        """Take the lease (asking the holder to step down if needed). Returns (epoch, ticks
        skipped between the previous holder's last tick and ours)."""
        c = self.control
        deadline = time.monotonic() + self.opts.lease_timeout_s
        requested = False
        while True:
            state = c.load("lease_state")
            if state in (LEASE_FREE, LEASE_RELEASED):
                if c.cas("lease_state", state, LEASE_HELD):
                    break
                continue
            if state == LEASE_HELD and not requested:
                c.store("swap_candidate_pid", self.pid)
                c.store("swap_t_request_ns", _native.monotonic_ns())
                if c.cas("lease_state", LEASE_HELD, LEASE_STEP_DOWN_REQUESTED):
                    requested = True
                    log.info("asked pid %d to step down", c.load("lease_holder_pid"))
                continue
            if state == LEASE_STEP_DOWN_REQUESTED and not requested:
                raise LeaseError(
                    f"a swap is already in progress (candidate pid {c.load('swap_candidate_pid')})"
                )
            if time.monotonic() > deadline:
                raise LeaseError(
                    f"the holder (pid {c.load('lease_holder_pid')}) did not step down within "
                    f"{self.opts.lease_timeout_s} s"
                )
            time.sleep(0.0002)
        epoch = c.load("lease_epoch") + 1
        # The previous holder's last ring write happened before its release store of
        # lease_state (or before it was reaped); our first happens after the CAS above.
        c.store("lease_epoch", epoch)
        c.store("lease_holder_pid", self.pid)
        c.store("swap_candidate_pid", 0)
        c.store("pid_strategy", self.pid)
        c.set_str("strategy_name", self.opts.strategy)
        head = self.market_view.hdr("head")
        skipped = 0
        if state == LEASE_RELEASED:
            skipped = head - (c.load("handover_last_tick") + 1)
            if skipped:
                c.add("strategy_ticks_skipped", skipped)
        c.store("swap_t_acquired_ns", _native.monotonic_ns())
        return epoch, skipped

    def step_down(self, epoch: int, mkt: RingEnd, intents: RingEnd) -> None:
        """Publish the handover point and release the lease; no ring write follows."""
        c = self.control
        c.store("handover_epoch", epoch)
        c.store("handover_last_tick", mkt.index - 1)
        c.store("handover_intent_end", intents.index)
        c.store("lease_holder_pid", 0)
        c.store("swap_t_released_ns", _native.monotonic_ns())
        c.store("lease_state", LEASE_RELEASED)  # release: everything above is visible first

    def run(self) -> int:
        try:
            self.prepare()
        except (StrategyError, SegmentError, SandboxError, OSError) as e:
            log.error("%s", e)
            return EXIT_BAD_INPUT
        try:
            epoch, skipped = self.acquire_lease()
        except LeaseError as e:
            log.error("no lease: %s", e)
            return EXIT_NO_LEASE
        log.info("lease taken: epoch %d, ticks skipped %d", epoch, skipped)
        c = self.control
        local = np.zeros(self.pools.capacity, dtype=self.pools.slots.dtype)
        words = local.view(np.int64).reshape(len(local), -1)
        for pid in range(len(local)):  # rebuild the view from the table
            ringops.table_read_words(self.pools.entry_address(pid), words[pid], 1 << 20)
        # Claimed after the lease, taking them over: the lease says whose turn it is (the
        # previous holder has stepped down, or was killed and reaped).
        mkt = RingEnd(self.market_view, "consumer", takeover=True)
        intents = RingEnd(self.intents_view, "producer", takeover=True)
        reports = RingEnd(self.reports_view, "consumer", takeover=True)
        k = self.kernel
        applied_params = c.load("params_generation")
        c.store("strategy_params_version", applied_params)
        reported = k.counters.copy()
        idle_ns = self.opts.idle_timeout_ms * 1_000_000
        wait_ns = idle_ns
        while True:
            # A quiet market doubles the wait per empty batch, up to IDLE_BACKOFF times the
            # idle timeout: each round of this loop costs ~0.2 ms of Python, and 50 of them a
            # second was most of an idle strategy's CPU (issue 16). A tick resets it.
            if k.batch(mkt, self.pools, local, intents, epoch, self.opts, wait_ns) > 0:
                wait_ns = idle_ns
            else:
                wait_ns = min(2 * wait_ns, IDLE_BACKOFF * idle_ns)
            drain_reports(reports.state, reports.slots, k.counters, 1024)
            now = _native.monotonic_ns()
            c.store("hb_strategy_ns", now)
            mkt.heartbeat()
            for name, idx in (
                ("strategy_ticks", C_TICKS),
                ("strategy_intents", C_INTENTS),
                ("strategy_intents_dropped", C_INTENTS_DROPPED),
            ):
                delta = int(k.counters[idx] - reported[idx])
                if delta:
                    c.add(name, delta)
            reported[:] = k.counters
            if c.load("lease_state") == LEASE_STEP_DOWN_REQUESTED:
                self.step_down(epoch, mkt, intents)
                log.info("stepped down at tick %d, intent seq %d", mkt.index - 1, intents.index)
                return EXIT_OK
            if c.load("run_state") != 0:
                self.step_down(epoch, mkt, intents)
                log.info("stopped at tick %d", mkt.index - 1)
                return EXIT_OK
            gen = c.load("params_generation")
            if gen != applied_params:
                self.reload_params(gen)
                applied_params = gen

    def reload_params(self, gen: int) -> None:
        path = self.control.get_str("params_path")
        try:
            params = load_params(self.cls, Path(path))
        except StrategyError as e:
            log.error("params generation %d refused, keeping the current ones: %s", gen, e)
            self.control.store("strategy_params_refused", gen)
            return
        fill_params(self.kernel.params, params)
        self.strategy.params = params
        self.control.store("strategy_params_version", gen)
        log.info("params generation %d applied from %s", gen, path)

    @property
    def dropped_intents(self) -> int:
        return int(self.kernel.counters[C_INTENTS_DROPPED])

    @property
    def reports_seen(self) -> tuple[int, int]:
        return int(self.kernel.counters[C_REPORTS]), int(self.kernel.counters[C_REPORTS_TERMINAL])


class LeaseError(Exception):
    """The strategy lease could not be taken."""


def force_release(control: Control, market: SegmentView, intents: SegmentView) -> None:
    """Release the lease for a holder that was killed and reaped (supervisor only): the
    handover point is where the dead process's ring indices stand."""
    epoch = control.load("lease_epoch")
    control.store("handover_epoch", epoch)
    control.store("handover_last_tick", market.hdr("head") - 1)
    control.store("handover_intent_end", intents.hdr("tail"))
    control.store("lease_holder_pid", 0)
    control.store("swap_t_released_ns", _native.monotonic_ns())
    control.store("lease_state", LEASE_RELEASED)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m phantom_pipeline.runtime")
    ap.add_argument("--instance", default="default")
    ap.add_argument("--strategy", required=True, help="MODULE:CLASS")
    ap.add_argument("--params", type=Path, default=None, help="TOML file ([params] table)")
    ap.add_argument("--config", type=Path, default=None, help="instance config ([[routes]])")
    ap.add_argument("--wait", choices=["spin", "adaptive"], default="adaptive")
    ap.add_argument("--batch", type=int, default=256, help="ticks per numba batch at most")
    ap.add_argument("--lease-timeout-s", type=float, default=30.0)
    ap.add_argument("--idle-timeout-ms", type=int, default=20, help="longest wait per batch")
    ap.add_argument("--sandbox", action="store_true",
                    help="enter the sandbox before importing the strategy (the supervisor's "
                    "default; phantom_pipeline.sandbox)")  # fmt: skip
    ap.add_argument("--sandbox-read", type=Path, action="append", default=[],
                    help="with --sandbox: a path the strategy may read")  # fmt: skip
    ap.add_argument("--sandbox-rw", type=Path, action="append", default=[],
                    help="with --sandbox: a path the strategy may read and write")  # fmt: skip
    ap.add_argument("--intents-full-timeout-ms", type=float, default=INTENTS_FULL_TIMEOUT_MS,
                    help="how long an intent waits for room in a full intents ring before it "
                    "is dropped (counted)")  # fmt: skip
    ap.add_argument(
        "--supervisor-pid", type=int, default=None,
        help="die (SIGTERM) with this parent; exit at once if it is already gone",
    )  # fmt: skip
    a = ap.parse_args(argv)
    if a.supervisor_pid is not None:
        try:
            _native.die_with_supervisor(a.supervisor_pid)
        except OSError as e:
            print(f"strategy: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s strategy[{os.getpid()}] %(levelname)s %(message)s"
    )
    opts = Options(
        a.instance, a.strategy, a.params, a.config, a.wait, a.batch, a.lease_timeout_s,
        a.idle_timeout_ms, a.intents_full_timeout_ms,
        Grants(a.sandbox_read, a.sandbox_rw) if a.sandbox else None,
    )  # fmt: skip
    return Runtime(opts).run()


if __name__ == "__main__":
    sys.exit(main())
