"""The project's layout and its one-source rules (issue: one home per thing).

* The dependency picture of docs/architecture.md, checked with ``cargo metadata``: the centre
  (``phantom-ringbuf`` and its config helpers) knows no leaf, and the product's extension
  depends on the centre only.
* The installed product holds no benchmark module and no benchmark executable.
* Shared facts come from Rust: no program-id literal or pool-kind table in the product's
  Python, and the numba wait takes the same steps as the Rust wait.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from phantom_pipeline import _native, constants, ringops

REPO = Path(__file__).resolve().parent.parent
PRODUCT_PY = REPO / "strategy" / "phantom_pipeline"

# Workspace crates by role. The centre may depend on no leaf; each leaf on the centre only;
# the measuring crates on anything.
CENTRE = {"phantom-ringbuf", "phantom-config"}
LEAVES = {"phantom-feeder", "phantom-sim", "phantom-signer", "phantom-native"}
MEASURING = {"phantom-bench", "phantom-bench-micro"}


@cache
def _metadata() -> dict:  # type: ignore[type-arg]
    r = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--offline"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if r.returncode != 0:
        pytest.fail(f"cargo metadata failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def _workspace_closure(crate: str) -> set[str]:
    """Every workspace crate ``crate`` depends on, directly or not (normal dependencies)."""
    meta = _metadata()
    names = {p["id"]: p["name"] for p in meta["packages"]}
    members = {names[i] for i in meta["workspace_members"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    by_name = {names[i]: i for i in nodes if names[i] in members}
    seen: set[str] = set()
    todo = [by_name[crate]]
    while todo:
        for dep in nodes[todo.pop()]["deps"]:
            normal = any(k["kind"] is None for k in dep["dep_kinds"])
            if normal and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
    return {names[i] for i in seen} & members


def test_workspace_has_the_documented_crates() -> None:
    meta = _metadata()
    names = {p["id"]: p["name"] for p in meta["packages"]}
    assert {names[i] for i in meta["workspace_members"]} == CENTRE | LEAVES | MEASURING


@pytest.mark.parametrize("crate", sorted(CENTRE))
def test_the_centre_knows_no_leaf(crate: str) -> None:
    assert _workspace_closure(crate) <= CENTRE


@pytest.mark.parametrize("crate", sorted(LEAVES))
def test_each_leaf_depends_on_the_centre_only(crate: str) -> None:
    # The simulator is the feeder's neighbour (feeder/sim), not its dependant: neither uses
    # the other's code, and the signer shares nothing with the feeder.
    assert _workspace_closure(crate) <= CENTRE, _workspace_closure(crate)


def test_the_extension_links_neither_feeder_nor_signer() -> None:
    assert _workspace_closure("phantom-native") == {"phantom-ringbuf"}


def test_the_installed_product_holds_no_benchmark() -> None:
    files = importlib.metadata.files("phantom-pipeline") or []
    paths = [str(f) for f in files]
    package = [p for p in paths if p.startswith("phantom_pipeline/")]
    assert package, "phantom-pipeline is installed with its files listed"
    bench_like = [p for p in package if re.search(r"bench|e2e|probe|allrust|phantom-ring", p)]
    assert bench_like == []
    executables = sorted(p.rsplit("/", 1)[1] for p in package if "/bin/" in p)
    assert executables == ["phantom-feeder", "phantom-signer", "phantom-sim"]
    requires = importlib.metadata.requires("phantom-pipeline") or []
    core = [r for r in requires if "extra ==" not in r]
    assert not any(r.startswith("hdrhistogram") for r in core)


def _product_sources() -> list[Path]:
    return sorted(PRODUCT_PY.rglob("*.py"))


def test_no_program_id_literal_in_the_product_python() -> None:
    ids = _native.program_ids()
    assert "RAYDIUM_CPMM" in ids and len(ids) >= 5
    found = [
        f"{path.relative_to(REPO)}: {name}"
        for path in _product_sources()
        for name, address in ids.items()
        if address in path.read_text()
    ]
    assert found == []


# A hand-written pool-kind table: a kind name mapped to a number, in a dict or assignments.
KIND_TABLE = re.compile(
    r"""["']?(raydium_amm_v4|raydium_cpmm|orca_whirlpool)["']?\s*[:=]\s*\d""", re.IGNORECASE
)


def test_no_pool_kind_table_in_the_product_python() -> None:
    found = [
        f"{path.relative_to(REPO)}:{i + 1}: {line.strip()}"
        for path in _product_sources()
        for i, line in enumerate(path.read_text().splitlines())
        if KIND_TABLE.search(line)
    ]
    assert found == []


def test_the_literal_scans_would_catch_a_copy(tmp_path: Path) -> None:
    """The two scans above are not vacuous: each finds the kind of copy it forbids."""
    assert KIND_TABLE.search('POOL_KINDS = {"raydium_cpmm": 2}')
    assert KIND_TABLE.search("RAYDIUM_AMM_V4 = 1")
    assert not KIND_TABLE.search("kind == POOL_RAYDIUM_CPMM")
    assert (
        _native.program_ids()["ORCA_WHIRLPOOL"]
        in 'X = "whirLbMiicVdio4qvUfM5KAg6Ct8VwpYzGff3uctyCc"'
    )


def test_constants_are_the_rust_groups_with_their_prefixes() -> None:
    groups = _native.constants()
    prefixes = groups.pop("_prefix")
    for group, prefix in prefixes.items():
        for name, value in groups[group].items():
            assert getattr(constants, f"{prefix}_{name}") == value
    assert groups["pool_kind"]["RAYDIUM_CPMM"] == constants.POOL_RAYDIUM_CPMM
    with pytest.raises(AttributeError, match="PREFIX_NAME"):
        constants.NO_SUCH_CONSTANT  # noqa: B018


@pytest.mark.parametrize(("spin", "yields"), [(0, 0), (1, 0), (0, 3), (5, 2), (2000, 16)])
def test_numba_and_rust_wait_take_the_same_steps(spin: int, yields: int) -> None:
    steps = {constants.WAIT_STEP_PAUSE, constants.WAIT_STEP_YIELD, constants.WAIT_STEP_SLEEP}
    assert len(steps) == 3
    for i in [*range(spin + yields + 3), spin + yields + 1000]:
        rust = _native.adaptive_step(i, spin, yields)
        assert ringops.adaptive_step(i, spin, yields) == rust, (i, spin, yields)
        assert rust in steps
    # Every phase with iterations occurs, in order: pause, yield, sleep.
    seq = [_native.adaptive_step(i, spin, yields) for i in range(spin + yields + 1)]
    assert seq == [constants.WAIT_STEP_PAUSE] * spin + [constants.WAIT_STEP_YIELD] * yields + [
        constants.WAIT_STEP_SLEEP
    ]


def test_instance_names_match_exactly() -> None:
    assert _native.parse_segment_name("phantom-a-b-control") == ("a-b", "control")
    assert _native.parse_segment_name("phantom-a-probe") == ("a", "probe")
    assert _native.parse_segment_name("phantom-a-") is None
    assert _native.segment_name("x", "market") == "phantom-x-market"
    with pytest.raises(ValueError, match="instance name"):
        _native.validate_instance("-bad")


@pytest.mark.parametrize(
    ("gaps", "max_spin", "wake_cost"),
    [
        ([500_000] * 50, 32_768, 20_000),  # 2 k/s: sleep at once
        ([3_000] * 50, 32_768, 20_000),  # short gaps: spin across them
        ([1_500, 1_500, 1_500, 400_000] * 30, 32_768, 20_000),  # bursts: spin across the burst
        ([6_000] * 40, 4_096, 20_000),  # the cap refuses a window the gaps need
        ([2_000] * 40 + [1 << 62] * 200, 32_768, 20_000),  # traffic, then a quiet ring
        (list(range(0, 200_000, 997)), 65_536, 5_000),  # every bucket
    ],
)
def test_numba_and_rust_learn_the_same_spin_window(
    gaps: list[int], max_spin: int, wake_cost: int
) -> None:
    rust = _native.learned_windows(gaps, max_spin, wake_cost)
    st = ringops.new_state()
    numba = [ringops.learn_gap(st, g, max_spin, wake_cost) for g in gaps]
    assert numba == rust
    assert all(w <= max_spin for w in rust)
    assert int(st[ringops.ST_WINDOW]) == rust[-1]


def test_learned_window_follows_the_traffic() -> None:
    """Worked cases of the cost rule (ringbuf/src/learn.rs), against hand-computed costs."""
    cost = constants.LEARNED_WAKE_COST_NS
    assert cost == 20_000 and constants.LEARNED_MAX_SPIN_NS == 32_768
    # Records 500 µs apart (2 k/s): no window pays, sleep at once.
    assert _native.learned_windows([500_000] * 64, 32_768, cost)[-1] == 0
    # Records 3 µs apart: a 4 µs window costs ~3 µs a record against 20 µs for a wake-up.
    assert _native.learned_windows([3_000] * 64, 32_768, cost)[-1] == 4_096
    # Records 100 µs apart (10 k/s, evenly spaced): beyond the cap, sleep at once.
    assert _native.learned_windows([100_000] * 64, 32_768, cost)[-1] == 0
    # A quiet ring (every wait times out) learns to sleep at once, whatever came before.
    assert _native.learned_windows([3_000] * 64 + [1 << 62] * 200, 32_768, cost)[-1] == 0
