"""An instance's segments: naming, creation from a config, liveness, removal.

Segments of instance NAME are ``/dev/shm/phantom-NAME-<role>`` for the roles ``control``,
``pools``, ``market``, ``intents`` and ``reports``. The supervisor creates them all (mode
0600, prefaulted, optionally mlocked) before it starts any process, and removes them on
``stop``. A second ``start`` of a live instance is refused; a stale one is cleaned first
(after waiting out heartbeats left by processes that are gone: nobody maps the segments).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from phantom_pipeline import _native
from phantom_pipeline.config import Config
from phantom_pipeline.control import Control
from phantom_pipeline.errors import SegmentError
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
    return [(n, why) for n, why, _held in _live(instance, stale_after_ns)]


def _live(instance: str, stale_after_ns: int) -> list[tuple[str, str, bool]]:
    """(name, why, held) of the live segments; ``held``: another process maps it."""
    live = []
    for name in existing_segments(instance):
        try:
            seg = _native.Segment.open_unchecked(name)
        except SegmentError:
            continue
        is_live, why = seg.liveness(stale_after_ns)
        if is_live:
            live.append((name, why, seg.held_by_others()))
        del seg
    return live


def wait_unmapped_heartbeats(instance: str, stale_after_ns: int) -> list[tuple[str, str]]:
    """The live segments of ``instance``, after waiting out heartbeats that are the only
    thing keeping them live. A segment nobody maps (its flock is free) whose creator is gone
    can only be kept by a heartbeat written before its processes died (a supervisor killed
    with SIGKILL, its children gone with it): that heartbeat is older every moment, so the
    wait ends within ``stale_after_ns``. Anything mapped, or with a live creator, ends the
    wait at once."""
    deadline = time.monotonic() + stale_after_ns / 1e9 + 1.0
    while True:
        live = _live(instance, stale_after_ns)
        only_old_beats = live and all(not held and "heartbeat" in why for _n, why, held in live)
        if not only_old_beats or time.monotonic() > deadline:
            return [(n, why) for n, why, _held in live]
        time.sleep(0.05)


@dataclass
class InstanceSegments:
    """The five segments of a running instance, as this process sees them."""

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
            control = Control.create(
                segment_name(instance, "control"), instance=instance, role="control", mlock=s.mlock
            )
            made.append(control.view.name)
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
    def attach(cls, instance: str) -> InstanceSegments:
        """Attach to a running instance's segments (validated against this build)."""
        validate_instance_name(instance)
        try:
            return cls(
                instance,
                Control.attach(segment_name(instance, "control")),
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
        for view in (self.control.view, self.pools, self.market, self.intents, self.reports):
            view.segment.creator_heartbeat()

    def remove(self) -> None:
        for role in ROLES:
            with contextlib.suppress(SegmentError):
                _native.remove_segment(segment_name(self.instance, role))
