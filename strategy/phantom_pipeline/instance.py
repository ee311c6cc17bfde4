"""An instance's segments: naming, creation from a config, liveness, removal.

Segments of instance NAME are ``/dev/shm/phantom-NAME-<role>`` for the roles ``control``,
``pools``, ``market``, ``intents`` and ``reports``. The supervisor creates them all (mode
0600, prefaulted, optionally mlocked) before it starts any process, and removes them on
``stop``. A second ``start`` of a live instance is refused; a stale one is cleaned first
(after waiting out a dead supervisor's children and heartbeats: they die with it).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phantom_pipeline import _native
from phantom_pipeline.config import Config
from phantom_pipeline.control import Control
from phantom_pipeline.errors import SegmentError
from phantom_pipeline.schema import HEADER_DTYPE
from phantom_pipeline.segments import (
    SegmentView,
    attach_ring,
    attach_table,
    create_ring,
    create_table,
)

ROLES: tuple[str, ...] = tuple(_native.ROLES)


class InstanceError(Exception):
    """The instance cannot be created or found; the message says why."""


def validate_instance_name(name: str) -> None:
    """Check an instance name with the Rust rule (``names::validate_instance``)."""
    try:
        _native.validate_instance(name)
    except ValueError as e:
        raise InstanceError(str(e)) from None


segment_name = _native.segment_name


def existing_segments(instance: str) -> list[str]:
    """The instance's segments, matched exactly (never those of ``<instance>-x``)."""
    return _native.instance_segments(instance)


def live_segments(instance: str, stale_after_ns: int) -> list[tuple[str, str]]:
    """(name, why) of the instance's segments that are live."""
    return [(n, why) for n, why, _alive in _live(instance, stale_after_ns)]


def _live(instance: str, stale_after_ns: int) -> list[tuple[str, str, bool]]:
    """(name, why, creator_alive) of the live segments."""
    live = []
    for name in existing_segments(instance):
        try:
            seg = _native.Segment.open_unchecked(name)
        except SegmentError:
            continue
        is_live, why = seg.liveness(stale_after_ns)
        if is_live:
            raw = np.frombuffer(memoryview(seg), dtype=np.uint8)
            h = raw[: HEADER_DTYPE.itemsize].view(HEADER_DTYPE)[0]
            pid, start = int(h["creator_pid"]), int(h["creator_start_time"])
            alive = _process_alive(pid, start)
            del raw, h
            live.append((name, why, alive))
        del seg
    return live


def _process_alive(pid: int, start_time: int) -> bool:
    """Whether (pid, start time) is a running process; a zombie counts as gone (as in
    ``clock::process_alive``)."""
    if pid == 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0] not in ("Z", "X") and int(fields[19]) == start_time


def wait_unmapped_heartbeats(instance: str, stale_after_ns: int) -> list[tuple[str, str]]:
    """The live segments of ``instance``, after waiting out what a dead supervisor leaves
    behind. When the segments' creator (the supervisor) is gone, what still keeps them live
    is on its way out: its children die with it (death signal) and let go of their locks,
    and the heartbeats they wrote age. So the wait lasts while the creator is gone, up to
    ``stale_after_ns`` plus 10 s; a live creator (a running instance) ends it at once."""
    deadline = time.monotonic() + stale_after_ns / 1e9 + 10.0
    while True:
        live = _live(instance, stale_after_ns)
        orphaned = live and not any(alive for _n, _why, alive in live)
        if not orphaned or time.monotonic() > deadline:
            return [(n, why) for n, why, _alive in live]
        time.sleep(0.05)


@dataclass
class InstanceSegments:
    """The segments of a running instance (four control tables, the pools table, three
    rings), as this process sees them."""

    instance: str
    control: Control
    pools: SegmentView
    market: SegmentView
    intents: SegmentView
    reports: SegmentView

    @classmethod
    def create(cls, instance: str, config: Config) -> InstanceSegments:
        """Create every segment (after checking none is live); on any failure, remove the
        ones created so far."""
        validate_instance_name(instance)
        stale_ns = config.supervisor.stale_after_ms * 1_000_000
        live = wait_unmapped_heartbeats(instance, stale_ns)
        if live:
            name, why = live[0]
            raise InstanceError(
                f"instance {instance!r} is already running ({name}: {why}); stop it with "
                f"`phantom-pipeline stop --instance {instance}` or pick another --instance"
            )
        _removed, kept = _native.clean_instance(instance, stale_ns)
        if kept:
            raise InstanceError(f"instance {instance!r}: cannot reuse {kept[0][0]}: {kept[0][1]}")
        s = config.supervisor
        made: list[str] = []
        try:
            control = Control.create(instance, mlock=s.mlock)
            made.extend(v.name for v in control.segment_views)
            pools = create_table(
                segment_name(instance, "pools"), "PoolState", max(config.n_pools, 1),
                instance=instance, role="pools", mlock=s.mlock,
            )  # fmt: skip
            made.append(pools.name)
            rings = {}
            for role, record, cap in (
                ("market", "MarketUpdate", s.market_capacity),
                ("intents", "OrderIntent", s.intents_capacity),
                ("reports", "ExecReport", s.reports_capacity),
            ):
                rings[role] = create_ring(
                    segment_name(instance, role), record, cap,
                    instance=instance, role=role, mlock=s.mlock,
                )  # fmt: skip
                made.append(rings[role].name)
        except BaseException:
            for name in made:
                with contextlib.suppress(SegmentError):
                    _native.remove_segment(name)
            raise
        return cls(instance, control, pools, rings["market"], rings["intents"], rings["reports"])

    @classmethod
    def attach(cls, instance: str, writer: str = "supervisor") -> InstanceSegments:
        """Attach to a running instance's segments (validated against this build), the
        control tables as ``writer`` (:data:`phantom_pipeline.control.WRITERS`): the CLI
        attaches as the supervisor, so it can flip the kill switch and the params."""
        validate_instance_name(instance)
        try:
            return cls(
                instance,
                Control.attach(instance, writer),
                attach_table(segment_name(instance, "pools"), "PoolState"),
                attach_ring(segment_name(instance, "market"), "MarketUpdate"),
                attach_ring(segment_name(instance, "intents"), "OrderIntent"),
                attach_ring(segment_name(instance, "reports"), "ExecReport"),
            )
        except _native.SegmentNotFoundError:
            raise InstanceError(
                f"no running instance {instance!r} (no segments phantom-{instance}-*); "
                "start one with `phantom-pipeline start`"
            ) from None

    def heartbeat(self) -> None:
        """The creator's heartbeat in every segment (keeps them from looking stale)."""
        for view in (*self.control.segment_views, self.pools, self.market, self.intents,
                     self.reports):  # fmt: skip
            view.segment.creator_heartbeat()

    def remove(self) -> None:
        for role in ROLES:
            with contextlib.suppress(SegmentError):
                _native.remove_segment(segment_name(self.instance, role))
