"""Repeated end-to-end runs, summarised as medians with their spread and as same-run ratios.

``python -m phantom_bench.e2e.repeat --runs 3 --rates 2000,10000`` runs the end-to-end
benchmark (:func:`harness.run`) ``--runs`` times and writes one JSON report: every run's
report, the machine's load average before and after each run (``/proc/loadavg``: the
machines here are shared, so the load is part of the reading), and per system and rate the
median and range of p50, p99 and CPU µs per update. Ratios are taken inside each run (the
system against its baseline measured minutes apart on the same machine) and then summarised,
so a slower or busier run moves both sides of a ratio together.

The few-core goals (DESIGN §10, issue 16) are judged on those ratios: a goal is met when the
median ratio at every rate is within it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from phantom_bench.e2e import harness

#: (label, other system, metric, most the base may be as a multiple of the other).
GOALS: tuple[tuple[str, str, str, float], ...] = (
    ("p50 ≤ 0.6x pure-python-tuned", "pure-python-tuned", "p50_us", 0.6),
    ("p50 ≤ 1.5x all-rust", "all-rust", "p50_us", 1.5),
    ("p99 ≤ 0.25x pure-python-tuned", "pure-python-tuned", "p99_us", 0.25),
    ("CPU per update ≤ 0.5x pure-python-tuned", "pure-python-tuned", "cpu_us_per_update", 0.5),
)
METRICS = ("p50_us", "p99_us", "cpu_us_per_update", "cpu_us_per_signed")
IDLE_LIMIT_PCT = 1.0


def metric(r: dict[str, Any], name: str) -> float | None:
    """One figure of one system at one rate in one run (None when it did not run)."""
    lat = r.get("sent_to_signed_ns", {})
    if name == "p50_us":
        return lat["p50"] / 1e3 if "p50" in lat else None
    if name == "p99_us":
        return lat["p99"] / 1e3 if "p99" in lat else None
    v = r.get(name)
    return None if v is None else float(v)


def spread(values: list[float]) -> dict[str, Any]:
    """Median, min and max of ``values`` (the runs that produced a figure)."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "median": round(statistics.median(values), 3),
            "min": round(min(values), 3), "max": round(max(values), 3)}  # fmt: skip


def loadavg() -> str:
    """``/proc/loadavg``'s three load averages (what ``uptime`` prints)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def summarise(runs: list[dict[str, Any]], base: str = "phantom-adaptive") -> dict[str, Any]:
    """Per system, rate and metric the spread over runs; per goal and rate the spread of the
    same-run ratios base/other; whether each goal is met; the idle CPU of every run."""
    rates = sorted({rate for rep in runs for s in rep["systems"].values()
                    for rate in s.get("rates", {})}, key=int)  # fmt: skip
    systems = sorted({n for rep in runs for n, s in rep["systems"].items() if "rates" in s})
    figures: dict[str, Any] = {}
    for name in systems:
        figures[name] = {}
        for rate in rates:
            per: dict[str, Any] = {}
            for m in METRICS:
                vals = []
                for rep in runs:
                    r = rep["systems"].get(name, {}).get("rates", {}).get(rate)
                    v = None if r is None else metric(r, m)
                    if v is not None:
                        vals.append(v)
                per[m] = spread(vals)
            figures[name][rate] = per
    goals: dict[str, Any] = {}
    for label, other, m, limit in GOALS:
        per_rate: dict[str, Any] = {}
        met = True
        for rate in rates:
            ratios = []
            for rep in runs:
                b = rep["systems"].get(base, {}).get("rates", {}).get(rate)
                o = rep["systems"].get(other, {}).get("rates", {}).get(rate)
                vb = None if b is None else metric(b, m)
                vo = None if o is None else metric(o, m)
                if vb is not None and vo:
                    ratios.append(vb / vo)
            sp = spread(ratios)
            per_rate[rate] = sp
            if sp["n"] == 0 or sp["median"] > limit:
                met = False
        goals[label] = {"limit": limit, "ratio": per_rate, "met": met}
    idle = [rep.get("idle", {}).get("cpu_pct") for rep in runs]
    idle_ok = [i for i in idle if isinstance(i, dict)]
    worst = {k: max(i.get(k, 0.0) for i in idle_ok) for k in (idle_ok[0] if idle_ok else {})}
    goals[f"idle CPU < {IDLE_LIMIT_PCT:g} % of a core per process"] = {
        "limit": IDLE_LIMIT_PCT, "worst_pct": worst,
        "met": bool(idle_ok) and all(v < IDLE_LIMIT_PCT for v in worst.values()),
    }  # fmt: skip
    return {"base": base, "figures": figures, "goals": goals}


def markdown(report: dict[str, Any]) -> str:
    """The summary as Markdown: medians (range) per system and rate, then the goals."""
    s = report["summary"]
    lines = [
        f"{report['label']}: {len(report['runs'])} runs of {report['duration_s']} s per system "
        f"and rate; load average before/after each run: "
        + "; ".join(f"{r['load_before']} / {r['load_after']}" for r in report["runs"])
        + ".",
        "",
        "| system | rate/s | p50 µs | p99 µs | CPU µs per update | CPU µs per signed |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def cell(sp: dict[str, Any], digits: int = 0) -> str:
        if not sp.get("n"):
            return "-"
        return f"{sp['median']:,.{digits}f} ({sp['min']:,.{digits}f}-{sp['max']:,.{digits}f})"

    for name, per in s["figures"].items():
        for rate, f in per.items():
            lines.append(
                f"| {name} | {int(rate):,} | {cell(f['p50_us'])} | {cell(f['p99_us'])} "
                f"| {cell(f['cpu_us_per_update'], 1)} | {cell(f['cpu_us_per_signed'])} |"
            )
    lines += ["", f"| goal ({s['base']}, same-run ratio, median (range)) | "
              + " | ".join(f"{int(r):,}/s" for r in next(iter(s["figures"].values()), {}))
              + " | met |", "|---|" + "---:|" * (1 + len(next(iter(s["figures"].values()),
                                                                  {}))), ]  # fmt: skip
    for label, g in s["goals"].items():
        if "ratio" in g:
            cells = " | ".join(cell(sp, 2) for sp in g["ratio"].values())
        else:
            cells = ", ".join(f"{k} {v:g} %" for k, v in g["worst_pct"].items()) or "-"
            cells += " |" * (len(next(iter(s["figures"].values()), {})) - 1)
        lines.append(f"| {label} | {cells} | {'met' if g['met'] else 'not met'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--systems", default="phantom-adaptive,all-rust,pure-python-tuned")
    ap.add_argument("--rates", default="2000,10000")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of quiet market per run")
    ap.add_argument("--cpus", default=None, help="pin the phantom processes to these CPUs")
    ap.add_argument(
        "--placement",
        choices=["auto", "off"],
        default=None,
        help="[supervisor] placement of the phantom systems (default: the config's)",
    )
    ap.add_argument("--base", default="phantom-adaptive", help="the system the goals judge")
    ap.add_argument("--label", default="this machine")
    ap.add_argument("--out", type=Path, default=Path("bench/results/repeat.json"))
    ap.add_argument(
        "--plots",
        type=Path,
        default=None,
        help="also draw the last run's plots (harness.plot) into this directory",
    )
    ap.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="REPORT",
        help="only draw the plots of an existing report (into --plots, or beside it)",
    )
    ap.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=None,
        metavar="REPORT",
        help="run nothing: summarise the runs of these reports together (runs "
        "taken in turns with another build's, say) into --out",
    )
    a = ap.parse_args(argv)
    if a.merge is not None:
        parts = [json.loads(p.read_text()) for p in a.merge]
        merged = {"label": a.label, "duration_s": parts[0]["duration_s"],
                  "machine": parts[0]["machine"],
                  "runs": [r for part in parts for r in part["runs"]]}  # fmt: skip
        merged["summary"] = summarise(merged["runs"], a.base)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(merged, indent=2) + "\n")
        print(markdown(merged), end="")
        return 0
    if a.plot is not None:
        report = json.loads(a.plot.read_text())
        for path in draw(report, a.plots or a.plot.parent):
            print(path)
        return 0
    from phantom_pipeline import config as cfgmod

    systems = tuple(x.strip() for x in a.systems.split(",") if x.strip())
    unknown = [n for n in systems if n not in harness.SYSTEMS]
    if unknown or a.runs < 1:
        ap.error(f"unknown systems {unknown} (known: {', '.join(harness.SYSTEMS)})"
                 if unknown else "--runs must be at least 1")  # fmt: skip
    rates = tuple(int(float(r)) for r in a.rates.split(","))
    cpus = cfgmod.parse_cpus(a.cpus)
    runs: list[dict[str, Any]] = []
    for i in range(a.runs):
        before = loadavg()
        t0 = time.monotonic()

        def say(m: str, i: int = i) -> None:
            print(f"[run {i + 1}/{a.runs}] {m}", file=sys.stderr, flush=True)

        rep = harness.run(systems=systems, rates=rates, duration_s=a.duration, idle_s=a.idle,
                          cpus=cpus, placement=a.placement, progress=say)  # fmt: skip
        rep["load_before"], rep["load_after"] = before, loadavg()
        rep["wall_s"] = round(time.monotonic() - t0, 1)
        runs.append(rep)
    report = {"label": a.label, "duration_s": a.duration, "machine": runs[0]["machine"],
              "runs": runs, "summary": summarise(runs, a.base)}  # fmt: skip
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report), end="")
    if a.plots is not None:
        try:
            draw(report, a.plots)
        except ImportError as e:
            print(f"no plots here ({e.name} is not installed): draw them elsewhere with "
                  f"python -m phantom_bench.e2e.repeat --plot {a.out}",
                  file=sys.stderr)  # fmt: skip
    return 0


def draw(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """The end-to-end plots (``harness.plot``) of a repeated report's last run."""
    last = report["runs"][-1]
    return harness.plot(last, out_dir)


if __name__ == "__main__":
    sys.exit(main())
