"""Config validation: every error names the key and the problem; spin needs its cores."""

from __future__ import annotations

from pathlib import Path

import pytest

from phantom_pipeline.config import (
    AUTO_SHARED_CORE_MAX,
    ConfigError,
    auto_cpus,
    check_spinners,
    load,
    parse,
    parse_cpus,
    usable_cpus,
)

GOOD = """
[supervisor]
market_capacity = 1024
[strategy]
name = "phantom_pipeline.strategies.echo:EchoStrategy"
wait = "adaptive"
params = { route_base = 3 }
[feeder]
wait = "spin"
[[pools]]
kind = "raydium_amm_v4"
[[routes]]
legs = [{ pool = 0, direction = "a_to_b" }]
"""


def test_a_good_config_parses_with_defaults_filled_in() -> None:
    c = parse(GOOD)
    assert c.supervisor.market_capacity == 1024 and c.supervisor.intents_capacity == 4096
    assert c.strategy.params == {"route_base": 3}
    assert c.n_pools == 1 and c.spinners() == ["feeder"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[supervisr]\n", "supervisr: unknown top-level key"),
        ("[supervisor]\nmarket_capacty = 8\n", "supervisor.market_capacty: unknown key"),
        (
            "[supervisor]\nmarket_capacity = 1000\n",
            "supervisor.market_capacity: must be a power of two, got 1000",
        ),
        ("[supervisor]\nmlock = 1\n", "supervisor.mlock: expected bool, got int"),
        (
            "[supervisor]\nswap_timeout_ms = true\n",
            "supervisor.swap_timeout_ms: expected an integer",
        ),
        ('[strategy]\nname = "nocolon"\n', "strategy.name: expected MODULE:CLASS"),
        ('[strategy]\nwait = "busy"\n', 'strategy.wait: expected "spin" or "adaptive"'),
        (
            '[supervisor]\nplacement = "pinned"\n',
            'supervisor.placement: expected "auto" or "off"',
        ),
        ("pools = 3\n", "pools: must be an array of tables"),
        ("[supervisor\n", "not valid TOML"),
        (
            "[supervisor]\nrestart_backoff_min_ms = 50\nrestart_backoff_max_ms = 10\n",
            "restart_backoff_min_ms: must not exceed",
        ),
    ],
)
def test_every_bad_config_is_refused_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load(tmp_path / "nope.toml")


def test_spin_is_refused_without_a_core_per_spinner() -> None:
    c = parse('[strategy]\nwait = "spin"\n[feeder]\nwait = "spin"\n[signer]\nwait = "spin"\n')
    with pytest.raises(ConfigError, match=r"needs 3 cores of their own, but only 2"):
        check_spinners(c, [0, 1])
    check_spinners(c, [0, 1, 2])
    check_spinners(parse(""), [0])


def test_auto_placement_shares_one_core_on_few_cores_only() -> None:
    """``placement = "auto"``: feeder, signer and strategy on the last usable core of a
    machine with at most AUTO_SHARED_CORE_MAX; never with a spinner, more cores, or
    ``placement = "off"`` (the default)."""
    assert AUTO_SHARED_CORE_MAX == 4
    assert parse("").supervisor.placement == "off"
    assert auto_cpus(parse(""), [0, 1]) is None
    default = parse('[supervisor]\nplacement = "auto"\n')
    assert default.supervisor.placement == "auto"
    assert auto_cpus(default, [0, 1]) == [1]
    assert auto_cpus(default, [2, 5, 7]) == [7]
    assert auto_cpus(default, [0]) == [0]
    assert auto_cpus(default, [0, 1, 2, 3]) == [3]
    assert auto_cpus(default, list(range(5))) is None
    assert auto_cpus(default, []) is None
    assert auto_cpus(parse('[supervisor]\nplacement = "off"\n'), [0, 1]) is None
    assert auto_cpus(parse('[signer]\nwait = "spin"\n'), [0, 1]) is None


def test_cpu_lists_parse_and_are_checked_against_the_affinity_mask() -> None:
    assert parse_cpus("0,2-4") == [0, 2, 3, 4]
    assert parse_cpus(None) is None
    with pytest.raises(ConfigError, match="not a CPU number"):
        parse_cpus("a-b")
    with pytest.raises(ConfigError, match="not available"):
        usable_cpus([10_000])
    assert usable_cpus(None)


def test_the_example_configs_are_valid_for_every_process(tmp_path: Path) -> None:
    import subprocess

    from conftest import REPO
    from phantom_pipeline.binaries import executable

    key = tmp_path / "key.json"
    r = subprocess.run([str(executable("phantom-signer")), "--generate-keypair", str(key)],
                       capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr
    for name in ("simulator.toml", "mainnet.toml"):
        text = (REPO / "examples" / name).read_text()
        for placeholder in ("/tmp/phantom-example/dry-run-key.json",
                            "/home/trader/.config/solana/trading-key.json"):  # fmt: skip
            text = text.replace(placeholder, str(key))
        cfg = tmp_path / name
        cfg.write_text(text)
        parse(text, cfg)
        for exe in ("phantom-feeder", "phantom-signer"):
            r = subprocess.run([str(executable(exe)), "--instance", "example", "--config", str(cfg),
                                "--check-config"],
                               capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
            assert r.returncode == 0, (name, exe, r.stderr)


def test_route_floors_are_accepted_and_bad_ones_name_the_key() -> None:
    good = GOOD.replace(
        "[[routes]]\n", "[[routes]]\nmin_profit_raw = 0\nmin_out_per_in_ppm = 990000\n"
    )
    assert parse(good).raw["routes"][0]["min_out_per_in_ppm"] == 990_000
    for line, message in [
        ("min_profit_raw = -1", "routes[0].min_profit_raw: expected an integer from 0"),
        ("min_out_per_in_ppm = 0", "routes[0].min_out_per_in_ppm: expected an integer from 1"),
        ('min_out_per_in_ppm = "1"', "routes[0].min_out_per_in_ppm: expected an integer"),
        ("min_profit_raw = true", "routes[0].min_profit_raw: expected an integer"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            parse(GOOD.replace("[[routes]]\n", f"[[routes]]\n{line}\n"))
