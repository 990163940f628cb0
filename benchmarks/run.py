#!/usr/bin/env python
"""Measure PlanAlign against the performance targets in DESIGN.md ("Performance targets").

Run `python benchmarks/run.py` (about 6 minutes on a 2-core machine) or
`python benchmarks/run.py --quick` (fewer repeats, scale 10k/50k only). It prints a
table and writes benchmarks/results.json.

How it measures, and why:
- Every figure that a user experiences as "a command" is a NEW process, timed from
  spawn to exit, so interpreter start-up and imports count. Each measured process is
  started by a tiny wrapper (`python -S`, ~8 MB) that forks, execs it and reads its
  rusage with os.wait4(): peak RSS and user+sys CPU seconds of that one process. The
  wrapper exists because Linux carries a parent's RSS high-water mark into a forked
  child's ru_maxrss, so spawning directly from this harness (which imports duckdb)
  would report the harness's memory. CPU seconds are kept next to wall time: on a
  shared machine wall time grows with other people's load, CPU time mostly does not.
- Figures that only exist inside a process (dbt import and parse time, the no-op
  check, a warm heal, invocation and parse counts) come from a probe: this same file
  re-run as `run.py _probe KIND REPORT PARAMS`, which drives the engine's public API,
  instruments dbt, and writes a JSON report. Import figures use a bare `python -c`
  so that the harness adds nothing to them.
- Every workspace is a new folder under benchmarks/work/ (git-ignored), removed
  afterwards unless --keep-work. "Cold" means a new process on an empty workspace;
  one untimed warm-up process first compiles bytecode and warms the OS file cache so
  that the first repeat is not an outlier nobody meets twice.
- Each figure is the median of its repeats, with min and max.
- The cost per employee-year (µs) is the seconds of simulated years over the
  employee-years they simulated: rows of fct_workforce_snapshot, everyone employed at
  some point of the year (an ensemble keeps no snapshot rows: its seed-years'
  headcount_start + hires from fct_year_metrics, the same rows counted). Its floor is
  what DuckDB alone needs to write one such row durably with one random draw, measured
  by the `floor` probe on a copy of the largest simulated database of the section.

The harness itself imports only the standard library (and duckdb, to drop and check
tables between runs), so nothing here is required by or imported into the engine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
WORK_ROOT = BENCH_DIR / "work"
RESULTS_PATH = BENCH_DIR / "results.json"
PLANALIGN = Path(sys.executable).parent / "planalign"
PROBE_COMMAND = "_probe"

HEAL_TABLE = "int_employee_benefits"
SCALE_YEARS = (2025, 2029)
SCALE_YEAR_COUNT = SCALE_YEARS[1] - SCALE_YEARS[0] + 1
E2E_YEARS = "2025-2027"
ENSEMBLE_YEARS = (2025, 2029)
MILLION_EMPLOYEES = 1_000_000
MILLION_YEARS = (2025, 2034)
NOOP_CALLS = 50
# The floor probe writes the last simulated year's snapshot slice once more, this many times.
FLOOR_REPEATS = 3
FLOOR_TABLE = "bench_floor_slice"
CENSUS_SEED = 42
# rfc3987-syntax is listed because, when installed (Jupyter server pulls it in through
# jsonschema[format-nongpl]), jsonschema builds Lark grammars at import: ~1.2 s of dbt's import.
PACKAGES = ("duckdb", "dbt-core", "dbt-duckdb", "dbt-adapters", "jsonschema", "rfc3987-syntax", "pandas", "pydantic")

# Forks and execs the measured command, then writes "wall cpu maxrss_kb exit_code".
RUSAGE_WRAPPER = """
import os, sys, time
usage_file, args = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(args[0], args)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(usage_file, "w") as out:
    out.write(f"{time.perf_counter() - started} {usage.ru_utime + usage.ru_stime} "
              f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""

# Runs in a bare `python -c`, so an import figure carries no harness overhead.
IMPORT_SNIPPET = """
import importlib, json, sys, time
started = time.perf_counter()
errors = {}
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except Exception as error:
        errors[name] = f"{type(error).__name__}: {error}"
json.dump({"seconds": time.perf_counter() - started, "errors": errors,
           "dbt_imported": any(m == "dbt" or m.startswith("dbt.") for m in sys.modules)},
          open(sys.argv[1], "w"))
"""


# -- settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Repeat counts per mode: the full run aims at ~10 min, --quick at ~3 min on 2 cores."""

    cold_init: int
    status: int
    warm_heals: int
    fresh_heals: int
    e2e: int
    scale_sizes: tuple[int, ...]
    scale_repeats: int
    imports: int
    ensemble_seed_counts: tuple[int, ...] = (1, 10, 25, 50, 100)
    ensemble_repeats: int = 3
    keep_work: bool = False
    million_employees: int = MILLION_EMPLOYEES

    @classmethod
    def for_mode(cls, quick: bool, keep_work: bool, tiny: bool = False) -> Settings:
        if tiny:  # a smoke test of the harness itself: every section at toy sizes, figures meaningless
            return cls(
                cold_init=1,
                status=1,
                warm_heals=1,
                fresh_heals=1,
                e2e=1,
                scale_sizes=(1_000, 2_000),
                scale_repeats=1,
                imports=1,
                ensemble_seed_counts=(2,),
                ensemble_repeats=1,
                keep_work=keep_work,
                million_employees=2_000,
            )
        if quick:
            return cls(
                cold_init=2,
                status=3,
                warm_heals=3,
                fresh_heals=1,
                e2e=1,
                scale_sizes=(10_000, 50_000),
                scale_repeats=1,
                imports=3,
                ensemble_seed_counts=(10, 100),
                ensemble_repeats=1,
                keep_work=keep_work,
            )
        return cls(
            cold_init=3,
            status=5,
            warm_heals=5,
            fresh_heals=3,
            e2e=3,
            scale_sizes=(10_000, 50_000, 100_000),
            scale_repeats=3,
            imports=5,
            keep_work=keep_work,
        )


# -- figures and targets ---------------------------------------------------------------

MICROSECONDS = "µs"
RATIO = "x"


@dataclass(frozen=True)
class Target:
    """A design target: `value op target`, e.g. cold init <= 6 s."""

    op: str
    value: float

    def met_by(self, measured: float) -> bool:
        return {"<=": measured <= self.value, "<": measured < self.value, "==": measured == self.value}[self.op]

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


@dataclass
class Figure:
    """One reported number: the repeats it summarises, its target and the process's peak RSS."""

    key: str
    label: str
    unit: str
    runs: list[float]
    target: Target | None = None
    peak_rss_mb: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None
    # user+sys seconds of each measured process: on a shared machine, wall time grows with
    # other people's load while CPU time mostly does not, so the two together tell noise apart.
    cpu_runs: list[float] | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def status(self) -> str:
        if self.target is None:
            return ""
        return "pass" if self.target.met_by(self.median) and not self.failed else "MISS"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "median": self.median,
            "min": min(self.runs),
            "max": max(self.runs),
            "runs": self.runs,
            "repeats": len(self.runs),
            "target": str(self.target) if self.target else None,
            "status": self.status or None,
            "peak_rss_mb": self.peak_rss_mb,
            "details": self.details,
            "failed": self.failed,
            "cpu_s_median": statistics.median(self.cpu_runs) if self.cpu_runs else None,
            "cpu_s_runs": self.cpu_runs,
        }

    @classmethod
    def of_processes(
        cls, key: str, label: str, runs: Sequence[ProcessRun], target: Target | None, **details: Any
    ) -> Figure:
        """A figure whose repeats are whole processes: wall, CPU and peak RSS all come from them."""
        return cls(
            key, label, "s", [r.wall_s for r in runs], target, max_rss(runs), details, cpu_runs=[r.cpu_s for r in runs]
        )


# -- running measured processes --------------------------------------------------------


@dataclass(frozen=True)
class ProcessRun:
    """One finished child process: wall time, CPU time and its own peak RSS."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    report: dict[str, Any]


class MeasuredProcessError(RuntimeError):
    """A measured process failed; the figure would be meaningless, so the run stops."""


def spawn(
    args: Sequence[str], *, cwd: Path, report_path: Path | None = None, extra_env: dict[str, str] | None = None
) -> ProcessRun:
    """Run one process to completion through the rusage wrapper and measure it.

    Equivalent to `/usr/bin/time -v` (wall, CPU, maximum resident set size) without
    depending on that binary; the process's own output is kept only to explain a failure.
    """
    env = {**os.environ, "DO_NOT_TRACK": "1", "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    with _report_file(cwd, "rusage") as usage_file, tempfile.TemporaryFile() as out:
        wrapper = [sys.executable, "-S", "-c", RUSAGE_WRAPPER, str(usage_file), *args]
        subprocess.run(wrapper, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)
        wall, cpu, maxrss_kb, exit_code = usage_file.read_text().split()
        if int(exit_code) != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-3000:]
            raise MeasuredProcessError(f"{' '.join(args)} exited {exit_code}:\n{tail}")
    report = json.loads(report_path.read_text()) if report_path else {}
    return ProcessRun(float(wall), float(cpu), int(maxrss_kb) / 1024, report)


def run_probe(kind: str, params: dict[str, Any], *, cwd: Path) -> ProcessRun:
    """Run this file as a probe process of the given kind and return its measured run and report."""
    with _report_file(cwd, kind) as report:
        args = [sys.executable, str(Path(__file__).resolve()), PROBE_COMMAND, kind, str(report), json.dumps(params)]
        return spawn(args, cwd=cwd, report_path=report)


def run_import(modules: Sequence[str], *, cwd: Path) -> ProcessRun:
    """`python -c "import ..."` as a new process, reporting in-process import time and errors."""
    with _report_file(cwd, "import") as report:
        return spawn([sys.executable, "-c", IMPORT_SNIPPET, str(report), *modules], cwd=cwd, report_path=report)


@contextmanager
def _report_file(cwd: Path, kind: str) -> Iterator[Path]:
    path = cwd / f".report-{kind}-{time.monotonic_ns()}.json"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def planalign(*args: str, cwd: Path, extra_env: dict[str, str] | None = None) -> ProcessRun:
    """Run the installed console script, exactly as a user would."""
    return spawn([str(PLANALIGN), *args], cwd=cwd, extra_env=extra_env)


class WorkDirs:
    """Fresh folders under benchmarks/work/, removed at the end unless kept for inspection."""

    def __init__(self, keep: bool) -> None:
        WORK_ROOT.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="run-", dir=WORK_ROOT))
        self.keep = keep

    def new(self, label: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.root))

    def close(self) -> None:
        if self.keep:
            print(f"Workspaces kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def drop_table(workspace: Path, table: str) -> None:
    """Drop a table between runs, from the harness, so the measured process only heals."""
    import duckdb

    with duckdb.connect(str(workspace / "simulation.duckdb")) as conn:
        conn.execute(f"drop table if exists main.{table}")


def simulated_years(workspace: Path) -> list[int]:
    """Which years a finished simulation wrote, to verify a CLI run really completed."""
    import duckdb

    with duckdb.connect(str(workspace / "simulation.duckdb"), read_only=True) as conn:
        rows = conn.execute("select distinct simulation_year from main.fct_workforce_snapshot order by 1").fetchall()
    return [row[0] for row in rows]


def max_rss(runs: Sequence[ProcessRun]) -> float:
    return round(max(run.peak_rss_mb for run in runs), 1)


# -- measurements ---------------------------------------------------------------------


def warm_up(work: WorkDirs) -> None:
    """Untimed: compile bytecode and warm the file cache for engine, dbt and duckdb."""
    run_import(["planalign_orchestrator.factory", "dbt.cli.main", "duckdb"], cwd=work.new("warmup"))


def measure_cold_init(settings: Settings, work: WorkDirs) -> tuple[list[Figure], Path]:
    """1. New process, empty workspace, bundled census -> verified COMPLETED.

    The headline is `planalign init` in an empty folder, as a user runs it (verified by
    `planalign status` exiting 0). The same job through the API in a probe process
    gives the breakdown: imports, dbt parse, each step, and what the interpreter spends
    starting and exiting. Returns the last initialized workspace for the next sections.
    """
    cli_runs: list[ProcessRun] = []
    for _ in range(settings.cold_init):
        workspace = work.new("cold-cli")
        cli_runs.append(planalign("init", "--workspace", str(workspace), cwd=workspace))
        planalign("status", "--workspace", str(workspace), cwd=workspace)
    # The very first init on a machine also parses the dbt project from scratch: later
    # workspaces reuse the parse dbt saved in the per-user cache (XDG_CACHE_HOME).
    first_runs: list[ProcessRun] = []
    for _ in range(settings.cold_init):
        workspace = work.new("cold-first")
        empty_cache = {"XDG_CACHE_HOME": str(work.new("empty-cache"))}
        first_runs.append(planalign("init", "--workspace", str(workspace), cwd=workspace, extra_env=empty_cache))
    probes: list[ProcessRun] = []
    for _ in range(settings.cold_init):
        workspace = work.new("cold-api")
        probes.append(run_probe("init", {"workspace": str(workspace)}, cwd=workspace))
    reports = [r.report for r in probes]

    def part(key: str, label: str, values: list[float], **details: Any) -> Figure:
        return Figure(f"cold_init.{key}", "  " + label, "s", values, details=details)

    def step(name: str) -> list[float]:
        return [r["steps"][name] for r in reports]

    figures = [
        Figure.of_processes("cold_init", "Cold init: `planalign init`, empty folder (wall)", cli_runs, Target("<=", 6)),
        Figure.of_processes("cold_init.first", "Cold init, first on the machine (no saved parse)", first_runs, None),
        Figure.of_processes(
            "cold_init.api",
            "Cold init through the API, new process (wall)",
            probes,
            None,
            dbt_invocations=[r["invocations"] for r in reports],
        ),
        part("engine_import", "import planalign_orchestrator.factory", [r["engine_import_s"] for r in reports]),
        part("dbt_import", "import dbt.cli.main", [r["dbt_import_s"] for r in reports]),
        part("check_tables", "step check_tables (+ preflight)", step("check_tables")),
        part("load_seeds", "step load_seeds (parse command + dbt seed)", step("load_seeds")),
        part("dbt_parse_command", "  of which dbt parse command (DbtRunner)", [r["runner_parse_s"] for r in reports]),
        part(
            "dbt_parse",
            "  of which ManifestLoader.get_full_manifest",
            [sum(r["parse_s"]) for r in reports],
            parses=[len(r["parse_s"]) for r in reports],
        ),
        part("build_foundation", "step build_foundation (dbt run)", step("build_foundation")),
        part("verify", "step verify", step("verify")),
        part(
            "interpreter",
            "interpreter start-up + exit (wall - in-process)",
            [run.wall_s - run.report["probe_total_s"] for run in probes],
        ),
    ]
    return figures, workspace


def measure_noop(settings: Settings, workspace: Path) -> list[Figure]:
    """2. No-op ensure_initialized() in-process, and `planalign status` as a whole process."""
    probe = run_probe("noop", {"workspace": str(workspace), "calls": NOOP_CALLS}, cwd=workspace)
    status_runs = [planalign("status", "--workspace", str(workspace), cwd=workspace) for _ in range(settings.status)]
    return [
        Figure(
            "noop_in_process",
            f"No-op ensure_initialized() (in-process, {NOOP_CALLS} calls)"
            + (" [imported dbt!]" if probe.report["dbt_imported"] else ""),
            "ms",
            probe.report["calls_ms"],
            Target("<=", 20),
            round(probe.peak_rss_mb, 1),
            {
                "first_call_ms": probe.report["first_call_ms"],
                "dbt_imported": probe.report["dbt_imported"],
                "census_hashes_during_calls": probe.report["census_hashes_during_calls"],
            },
        ),
        Figure(
            "noop_touched_census",
            "No-op after touching the census (same bytes, new mtime; in-process)",
            "ms",
            probe.report["touched_calls_ms"],
            Target("<=", 20),
            round(probe.peak_rss_mb, 1),
            {
                "census_hashes_after_touch": probe.report["census_hashes_after_touch"],
                "tables_built_after_touch": probe.report["tables_built_after_touch"],
            },
        ),
        Figure.of_processes("status_process", "`planalign status` (process wall)", status_runs, Target("<=", 1.5)),
    ]


def measure_heal(settings: Settings, workspace: Path) -> list[Figure]:
    """3. Heal a dropped foundation table: warm (same process healed before) and in a fresh process."""
    drop_table(workspace, HEAL_TABLE)
    warm = run_probe("heal", {"workspace": str(workspace), "rounds": 1 + settings.warm_heals}, cwd=workspace)
    fresh: list[ProcessRun] = []
    for _ in range(settings.fresh_heals):
        drop_table(workspace, HEAL_TABLE)
        fresh.append(run_probe("heal", {"workspace": str(workspace), "rounds": 1}, cwd=workspace))
    rounds = warm.report["rounds"]
    return [
        Figure(
            "heal_warm",
            f"Heal {HEAL_TABLE}, warm process (in-process)",
            "s",
            [r["seconds"] for r in rounds[1:]],
            Target("<=", 2),
            round(warm.peak_rss_mb, 1),
            {
                "first_heal_in_process_s": rounds[0]["seconds"],
                "invocations_per_heal": [r["invocations"] for r in rounds],
                "tables_created": rounds[-1]["tables_created"],
                "parses_in_process": warm.report["parse_count"],
            },
        ),
        Figure.of_processes(
            "heal_fresh",
            f"Heal {HEAL_TABLE}, fresh process (wall)",
            fresh,
            None,
            in_process_s=[r.report["rounds"][0]["seconds"] for r in fresh],
            parse_s=[r.report["parse_s"] for r in fresh],
        ),
    ]


def measure_e2e(settings: Settings, work: WorkDirs) -> list[Figure]:
    """4. `planalign simulate 2025-2027` in a new empty folder, end to end, verified by its output tables."""
    first, last = (int(y) for y in E2E_YEARS.split("-"))
    runs: list[ProcessRun] = []
    for _ in range(settings.e2e):
        workspace = work.new("e2e")
        runs.append(planalign("simulate", E2E_YEARS, "--workspace", str(workspace), cwd=workspace))
        if simulated_years(workspace) != list(range(first, last + 1)):
            raise MeasuredProcessError(f"{workspace}: simulate {E2E_YEARS} did not write every year")
    return [
        Figure.of_processes(
            "e2e_3_years", f"Empty folder -> `planalign simulate {E2E_YEARS}` (wall)", runs, Target("<=", 15)
        )
    ]


@dataclass(frozen=True)
class ScaleRun:
    """One 5-year simulation process at a census size; the fit needs every repeat, not medians."""

    employees: int
    process: ProcessRun

    @property
    def years_s(self) -> float:
        return self.process.report["years_total_s"]


def measure_scale(settings: Settings, work: WorkDirs) -> tuple[list[Figure], list[ScaleRun]]:
    """5. 5-year simulations on generated censuses; fresh workspace per repeat (init reported apart).

    Then the floor, on a copy of the last workspace of the largest size: what DuckDB alone
    needs to write one of its employee-year rows.
    """
    runs: list[ScaleRun] = []
    workspace = None
    for employees in settings.scale_sizes:
        census = generate_census(employees, work)
        for _ in range(settings.scale_repeats):
            workspace = work.new(f"scale{employees // 1000}k")
            shutil.copyfile(census, workspace / "census.csv")
            params = {"workspace": str(workspace), "first": SCALE_YEARS[0], "last": SCALE_YEARS[1]}
            runs.append(ScaleRun(employees, run_probe("simulate", params, cwd=workspace)))
    largest = settings.scale_sizes[-1]
    figures = [figure for n in settings.scale_sizes for figure in scale_figures(n, runs, largest)]
    if workspace is not None:
        figures.append(floor_figure("scale.floor", f"{size_label(largest)}, year 5", workspace, SCALE_YEARS[1], work))
    return figures, runs


def size_label(employees: int) -> str:
    """1,000,000 -> "1M", 100,000 -> "100k", 2,500 -> "2.5k"."""
    if employees >= 1_000_000:
        return f"{employees / 1_000_000:g}M"
    return f"{employees / 1000:g}k"


def cost_per_employee_year_us(seconds: float, employee_years: int) -> float:
    """Seconds of simulated years over the employee-years they simulated, in µs."""
    return seconds / employee_years * 1e6


def floor_figure(key: str, where: str, workspace: Path, year: int, work: WorkDirs) -> Figure:
    """The floor probe on a copy of a finished workspace's database (copied untimed; the workspace is never touched)."""
    scratch = work.new("floor")
    try:
        for name in ("simulation.duckdb", "simulation.duckdb.wal"):
            if (workspace / name).exists():
                shutil.copyfile(workspace / name, scratch / name)
        params = {"database": str(scratch / "simulation.duckdb"), "year": year, "repeats": FLOOR_REPEATS}
        run = run_probe("floor", params, cwd=scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report = run.report
    return Figure(
        key,
        f"Floor: DuckDB writes one employee-year row ({where}; all columns, one draw)",
        MICROSECONDS,
        report["us_per_row"],
        None,
        round(run.peak_rss_mb, 1),
        {"where": where, "rows": report["rows"], "columns": report["columns"], "seconds": report["seconds"]},
    )


def measure_ensemble(settings: Settings, work: WorkDirs) -> list[Figure]:
    """6. Seed ensembles in-process on the bundled 5,000-employee census, 2025-2029: time against seeds.

    Each repeat is a new process on a new workspace, initialized first (timed apart), so
    the figure is the ensemble itself: base copy, one dbt invocation per year for every
    seed, metrics, storing. 100 seeds repeat `ensemble_repeats` times; other counts once.
    """
    first, last = ENSEMBLE_YEARS
    figures: list[Figure] = []
    for seeds in settings.ensemble_seed_counts:
        runs = []
        for _ in range(settings.ensemble_repeats if seeds == 100 else 1):
            workspace = work.new(f"ensemble{seeds}")
            params = {"workspace": str(workspace), "first": first, "last": last, "seeds": seeds}
            runs.append(run_probe("ensemble", params, cwd=workspace))
        reports = [run.report for run in runs]
        label = f"Ensemble {seeds} seeds x 5k x {last - first + 1} years"
        figures.append(
            Figure(
                f"ensemble.{seeds}",
                f"{label}, in-process",
                "s",
                [rep["ensemble_s"] for rep in reports],
                Target("<=", 12) if seeds == 100 else None,
                max_rss(runs),
                {
                    "per_year_s_runs": [rep["years_s"] for rep in reports],
                    "init_s_runs": [rep["init_s"] for rep in reports],
                    "dbt_invocations": reports[-1]["invocations"],
                    "rows": reports[-1]["rows"],
                    "employee_years": reports[-1]["employee_years"],
                },
            )
        )
        if seeds == max(settings.ensemble_seed_counts):
            figures.append(
                Figure(
                    f"ensemble.{seeds}.cost_per_employee_year",
                    f"{label}: cost per employee-year",
                    MICROSECONDS,
                    [cost_per_employee_year_us(rep["ensemble_s"], rep["employee_years"]) for rep in reports],
                    details={
                        "employee_years_runs": [rep["employee_years"] for rep in reports],
                        "employee_years_per_year": reports[-1]["employee_years_per_year"],
                        "cost_line": f"for {seeds} seeds x 5k x {last - first + 1} years, the whole ensemble call",
                        # no floor of its own: a row costs DuckDB the same whichever run writes it
                        "floor_keys": ["scale.floor", "million.floor"],
                    },
                )
            )
    return figures


def measure_million(settings: Settings, work: WorkDirs) -> list[Figure]:
    """7. One run of 1,000,000 employees x 10 years (DuckDB memory capped): years time and peak RSS.

    Also the cost per employee-year, its growth from the first year to the last, and
    the floor measured on a copy of the run's database.
    """
    employees = settings.million_employees
    census = generate_census(employees, work)
    workspace = work.new("million")
    shutil.copyfile(census, workspace / "census.csv")
    first, last = MILLION_YEARS
    params = {"workspace": str(workspace), "first": first, "last": last}
    run = run_probe("simulate", params, cwd=workspace)
    report = run.report
    label = f"{size_label(employees)} employees x {last - first + 1} years"
    per_year_us = [
        cost_per_employee_year_us(s, n) for s, n in zip(report["years_s"], report["employee_years"], strict=True)
    ]
    details = {
        "per_year_s": [round(s, 2) for s in report["years_s"]],
        "headcount_end": report["headcount_end"],
        "duckdb_memory_limit": os.environ.get("PLANALIGN_DUCKDB_MEMORY_LIMIT") or "default (3GB)",
    }
    return [
        Figure(
            "million.years",
            f"{label}: simulated years",
            "s",
            [report["years_total_s"]],
            Target("<=", 50),
            run.peak_rss_mb,
            details,
        ),
        Figure("million.init", f"{label}: initialization", "s", [report["init_s"]]),
        Figure("million.peak_rss", f"{label}: peak RSS", "MB", [run.peak_rss_mb], Target("<=", 1536)),
        Figure(
            "million.cost_per_employee_year",
            f"{label}: cost per employee-year",
            MICROSECONDS,
            [cost_per_employee_year_us(report["years_total_s"], sum(report["employee_years"]))],
            details={
                "employee_years": report["employee_years"],
                "per_year_us": [round(us, 3) for us in per_year_us],
                "cost_line": f"at {label}",
                "floor_keys": ["million.floor"],
            },
        ),
        Figure(
            "million.cost_growth",
            f"{label}: cost per employee-year, year {last - first + 1} / year 1",
            RATIO,
            [per_year_us[-1] / per_year_us[0]],
            Target("<=", 1.2),
            details={"first_year_us": per_year_us[0], "last_year_us": per_year_us[-1]},
        ),
        floor_figure("million.floor", f"{size_label(employees)}, year {last - first + 1}", workspace, last, work),
    ]


def generate_census(employees: int, work: WorkDirs) -> Path:
    """Untimed: a deterministic census through the product's own generator."""
    out = work.root / f"census-{employees}.csv"
    planalign(
        "census",
        "generate",
        "--employees",
        str(employees),
        "--seed",
        str(CENSUS_SEED),
        "--out",
        str(out),
        cwd=work.root,
    )
    return out


def scale_figures(employees: int, all_runs: list[ScaleRun], largest: int) -> list[Figure]:
    """Years-only time (the simulation cost), init, whole-process wall (the target binds both).

    And the cost per employee-year; the largest size's is the headline, set against the floor.
    """
    runs = [r for r in all_runs if r.employees == employees]
    reports = [r.process.report for r in runs]
    per_year = [statistics.median(rep["years_s"][i] for rep in reports) for i in range(SCALE_YEAR_COUNT)]
    target = Target("<=", 60) if employees == 100_000 else None
    label = f"{size_label(employees)} employees x {SCALE_YEAR_COUNT} years"
    processes = [r.process for r in runs]
    headline = {"cost_line": f"at {label}", "floor_keys": ["scale.floor"]} if employees == largest else {}
    return [
        Figure(
            f"scale.{employees}.years",
            f"{label}: simulated years",
            "s",
            [r.years_s for r in runs],
            target,
            max_rss(processes),
            {
                "per_year_s_median": [round(s, 3) for s in per_year],
                "per_year_s_runs": [rep["years_s"] for rep in reports],
                "headcount_end": reports[-1]["headcount_end"],
            },
        ),
        Figure(f"scale.{employees}.init", f"{label}: initialization", "s", [rep["init_s"] for rep in reports]),
        Figure.of_processes(f"scale.{employees}.wall", f"{label}: whole process (wall)", processes, target),
        *year_split_figures(f"scale.{employees}", label, reports),
        Figure(
            f"scale.{employees}.cost_per_employee_year",
            f"{label}: cost per employee-year",
            MICROSECONDS,
            [cost_per_employee_year_us(r.years_s, sum(r.process.report["employee_years"])) for r in runs],
            details={"employee_years_runs": [rep["employee_years"] for rep in reports], **headline},
        ),
    ]


def year_split_figures(key: str, label: str, reports: list[dict[str, Any]]) -> list[Figure]:
    """Where a simulated year's seconds go: DuckDB running dbt's SQL, dbt around it, the engine around dbt.

    Each run's median year; "dbt around its SQL" is the invocation (graph, adapter,
    connections, Jinja, events, the file's release) less its statements.
    """
    sql = [statistics.median(rep["sql_s"]) for rep in reports]
    dbt = [statistics.median(d - q for d, q in zip(rep["dbt_s"], rep["sql_s"], strict=True)) for rep in reports]
    engine = [statistics.median(y - d for y, d in zip(rep["years_s"], rep["dbt_s"], strict=True)) for rep in reports]
    return [
        Figure(f"{key}.year_sql", f"{label}: a year's SQL in DuckDB", "s", sql),
        Figure(f"{key}.year_dbt", f"{label}: a year's dbt around its SQL", "s", dbt),
        Figure(f"{key}.year_engine", f"{label}: a year's engine work around dbt", "s", engine),
    ]


def fit_figures(fit: dict[str, Any]) -> list[Figure]:
    """The scale fit's fixed cost per simulated year (its intercept over the years), against its target."""
    if not fit:
        return []
    return [
        Figure(
            "scale.fixed_per_year",
            "Scale fit: fixed cost per simulated year (intercept / years)",
            "s",
            [fit["fixed_per_year_s"]],
            Target("<=", 0.5),
            details=fit,
        )
    ]


def scale_fit(runs: list[ScaleRun]) -> dict[str, Any]:
    """Least squares of years-time on employees: fixed overhead + slope, and how linear it is."""
    xs = [float(r.employees) for r in runs]
    ys = [r.years_s for r in runs]
    if len(set(xs)) < 2:
        return {}
    slope, intercept = statistics.linear_regression(xs, ys)
    r2 = statistics.correlation(xs, ys) ** 2
    return {
        "model": "years_s = fixed_s + per_employee_s * employees",
        "fixed_s": round(intercept, 3),
        "fixed_per_year_s": round(intercept / SCALE_YEAR_COUNT, 3),
        "per_1k_employees_s": round(slope * 1000, 4),
        "r_squared": round(r2, 4),
    }


def dbt_cost_figures(cold: list[Figure], scale: list[ScaleRun]) -> list[Figure]:
    """6. dbt invocations per simulated year and parses per process, from the init and simulate probes."""
    per_year = [r.process.report["invocations_years"] / SCALE_YEAR_COUNT for r in scale]
    parses_per_year = [r.process.report["parses_years"] / SCALE_YEAR_COUNT for r in scale]
    parses = [float(r.process.report["parse_count"]) for r in scale]
    parses += [float(n) for f in cold if f.key == "cold_init.dbt_parse" for n in f.details["parses"]]
    return [
        Figure(
            "dbt.invocations_per_year",
            "dbt invocations per simulated year",
            "count",
            per_year,
            Target("==", 1),
            details={"init_invocations": [r.process.report["invocations_init"] for r in scale]},
        ),
        Figure(
            "dbt.parses_per_year",
            "dbt parses per simulated year (after init)",
            "count",
            parses_per_year,
            Target("==", 0),
        ),
        Figure(
            "dbt.parses_per_process",
            "dbt parses per process (init + simulate probes)",
            "count",
            parses,
            Target("<=", 1),
        ),
    ]


def measure_imports(settings: Settings, work: WorkDirs) -> list[Figure]:
    """7. `import planalign_nb` (and the engine factory, and bare Python) as fresh processes."""
    cwd = work.new("imports")
    figures = []
    for module, target in (("planalign_nb", Target("<", 1)), ("planalign_orchestrator.factory", None), ("", None)):
        runs = [run_import([module] if module else [], cwd=cwd) for _ in range(settings.imports)]
        report = runs[-1].report
        label = f"import {module} (process wall)" if module else "python start-up (baseline)"
        error = report["errors"].get(module)
        label += " -- FAILED" if error else " [imported dbt!]" if report["dbt_imported"] else ""
        figure = Figure.of_processes(
            f"import.{module or 'python'}",
            label,
            runs,
            target,
            in_process_s=[r.report["seconds"] for r in runs],
            dbt_imported=report["dbt_imported"],
        )
        figure.failed = error
        figures.append(figure)
    return figures


# -- machine and report ------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on; CPU model from /proc/cpuinfo, RAM from /proc/meminfo."""
    return {
        "cpu_model": _proc_field("/proc/cpuinfo", "model name") or platform.processor(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_gb": round(int((_proc_field("/proc/meminfo", "MemTotal") or "0 kB").split()[0]) / 2**20, 1),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain")),
    }


def _proc_field(path: str, name: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return None


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text()
        match = re.search(r'^PRETTY_NAME="?([^"\n]+)', text, re.M)
        if match:
            return match.group(1)
    except OSError:
        pass
    return platform.platform()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def print_table(figures: list[Figure], fit: dict[str, Any], info: dict[str, Any]) -> None:
    width = max(len(f.label) for f in figures) + 2
    header = (
        f"{'Measurement':<{width}} {'median':>9} {'min':>9} {'max':>9}  {'target':<10} {'':<4}"
        f"  {'peak RSS':>8}  {'CPU s':>6}"
    )
    print(
        f"\n{info['cpu_model']}, {info['usable_cores']} cores, {info['ram_gb']} GB RAM, "
        f"{info['os']}, Python {info['python']}, duckdb {info['packages']['duckdb']}, "
        f"dbt-core {info['packages']['dbt-core']}, dbt-duckdb {info['packages']['dbt-duckdb']}"
    )
    print(header)
    print("-" * len(header))
    for f in figures:
        target = f"{f.target}{'' if f.unit == RATIO else ' '}{f.unit}" if f.target else ""
        rss = f"{f.peak_rss_mb:.0f} MB" if f.peak_rss_mb else ""
        cpu = f"{statistics.median(f.cpu_runs):.2f}" if f.cpu_runs else ""
        print(
            f"{f.label:<{width}} {_fmt(f.median, f.unit):>9} {_fmt(min(f.runs), f.unit):>9} "
            f"{_fmt(max(f.runs), f.unit):>9}  {target:<10} {f.status:<4}  {rss:>8}  {cpu:>6}".rstrip()
        )
    for f in figures:
        if "per_year_s_median" in f.details:
            years = ", ".join(f"{s:.2f}" for s in f.details["per_year_s_median"])
            print(f"{f.label.split(':')[0]} per year (median s): {years}")
    if fit:
        print(
            f"\nScale fit: years_s = {fit['fixed_s']:.2f} s + {fit['per_1k_employees_s']:.3f} s per 1k "
            f"employees (R^2 {fit['r_squared']:.3f}); fixed overhead {fit['fixed_per_year_s']:.2f} s/year."
        )
    lines = cost_lines(figures)
    if lines:
        print()
        print("\n".join(lines))


def cost_lines(figures: list[Figure]) -> list[str]:
    """The headline cost per employee-year of each section, set against the floor measured beside it.

    A cost figure asks for its line with details["cost_line"] (where it was measured,
    e.g. "at 100k employees x 5 years") and lists the floor figures it may be set against
    in details["floor_keys"], its own section's first: the first one measured is used, and
    named when it comes from another section.
    """
    by_key = {f.key: f for f in figures}
    lines = []
    for f in figures:
        if "cost_line" not in f.details:
            continue
        line = f"Cost per employee-year: {_fmt(f.median, f.unit)} {f.details['cost_line']}"
        floors = [by_key[key] for key in f.details.get("floor_keys", []) if key in by_key]
        if floors:
            floor = floors[0]
            where = "" if floor.key.split(".")[0] == f.key.split(".")[0] else f", measured at {floor.details['where']}"
            line += f" (floor {_fmt(floor.median, floor.unit)}{where}: {f.median / floor.median:.1f}x the floor)"
        lines.append(line)
    return lines


def _fmt(value: float, unit: str) -> str:
    if unit == "count":
        return f"{value:g}"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == MICROSECONDS:
        return f"{value:.2f} µs"
    if unit == RATIO:
        return f"{value:.2f}x"
    return f"{value:.1f} ms" if unit == "ms" else f"{value:.2f} s"


def write_results(
    figures: list[Figure], fit: dict[str, Any], info: dict[str, Any], context: dict[str, Any], path: Path
) -> None:
    payload = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "run": context,
        "figures": [f.to_json() for f in figures],
        "scale_fit": fit,
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nWrote {path.relative_to(REPO_DIR)}")


# -- probes: run inside the measured process -----------------------------------------


class DbtInstruments:
    """Counts and times dbt parses and collects the DbtRunner's timing log lines in a probe.

    Wrapping ManifestLoader.get_full_manifest sees every parse however it is triggered;
    the DbtRunner's INFO lines give the parse command's time including adapter set-up.
    """

    _LINE = re.compile(r"^(?:Parsed dbt project .* in (?P<parse>[\d.]+)s|(?P<cmd>\w+) finished in (?P<s>[\d.]+)s)$")

    def __init__(self) -> None:
        self.parse_s: list[float] = []
        self.runner_parse_s = 0.0
        self.invocations: list[dict[str, Any]] = []
        self.sql_s = 0.0

    def install(self) -> None:
        import logging

        from dbt.parser.manifest import ManifestLoader

        original = ManifestLoader.get_full_manifest.__func__  # type: ignore[attr-defined]
        parse_s = self.parse_s

        def timed_parse(cls: type, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(cls, *args, **kwargs)
            finally:
                parse_s.append(time.perf_counter() - started)

        ManifestLoader.get_full_manifest = classmethod(timed_parse)  # type: ignore[method-assign]
        instruments = self

        # Every statement dbt sends to DuckDB goes through this cursor wrapper: its time is
        # the SQL's, the rest of an invocation is dbt's own work around it.
        from dbt.adapters.duckdb.environments.local import DuckDBCursorWrapper

        execute = DuckDBCursorWrapper.execute

        def timed_execute(cursor: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return execute(cursor, *args, **kwargs)
            finally:
                instruments.sql_s += time.perf_counter() - started

        DuckDBCursorWrapper.execute = timed_execute  # type: ignore[method-assign]

        class Collector(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                instruments.observe(record.getMessage())

        runner_logger = logging.getLogger("planalign_orchestrator.dbt_runner")
        runner_logger.setLevel(logging.INFO)
        runner_logger.addHandler(Collector())
        runner_logger.propagate = False

    def observe(self, message: str) -> None:
        match = self._LINE.match(message)
        if match and match["parse"]:
            self.runner_parse_s += float(match["parse"])
        elif match:
            self.invocations.append({"command": match["cmd"], "seconds": float(match["s"])})

    def report(self) -> dict[str, Any]:
        return {
            "parse_s": self.parse_s,
            "parse_count": len(self.parse_s),
            "runner_parse_s": self.runner_parse_s,
            "invocations": self.invocations,
        }


def _timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def _require_completed(result: Any, expected_created: list[str] | None = None) -> None:
    """A figure only counts if initialization really completed (and built what it should)."""
    if result.state.value != "completed":
        raise RuntimeError(f"initialization ended {result.state.value}: {result.error}")
    if expected_created is not None and sorted(result.tables_created) != sorted(expected_created):
        raise RuntimeError(f"expected to create {expected_created}, created {result.tables_created}")


def probe_init(params: dict[str, Any]) -> dict[str, Any]:
    """Cold initialization, with the engine import, dbt import and parse timed apart."""
    _, engine_import_s = _timed(lambda: __import__("planalign_orchestrator.factory"))
    _, dbt_import_s = _timed(lambda: __import__("dbt.cli.main"))
    instruments = DbtInstruments()
    instruments.install()
    from planalign_orchestrator.factory import create_orchestrator
    from planalign_orchestrator.workspace import Workspace

    orchestrator = create_orchestrator(Workspace.open(params["workspace"]).config)
    initializer = orchestrator.auto_initializer
    result, init_s = _timed(initializer.ensure_initialized)
    _require_completed(result)
    if not initializer.checker.is_initialized():
        raise RuntimeError("COMPLETED reported but required tables are missing")
    return {
        "engine_import_s": engine_import_s,
        "dbt_import_s": dbt_import_s,
        "ensure_initialized_s": init_s,
        "steps": {s.name: s.duration_seconds for s in result.steps},
        **instruments.report(),
    }


def probe_noop(params: dict[str, Any]) -> dict[str, Any]:
    """The no-op check on an initialized workspace; must not import dbt nor re-read the census.

    Counts every file hash the freshness check computes, to show that the census is
    hashed only when its size or mtime changed: never during the no-op calls, once
    after it is touched (same bytes, new mtime), and never again after that.
    """
    from planalign_orchestrator.factory import create_orchestrator
    from planalign_orchestrator.freshness import inputs

    hashed: list[str] = []
    real_sha256 = inputs._sha256

    def counting_sha256(path: Path) -> str:
        hashed.append(str(path))
        return real_sha256(path)

    inputs._sha256 = counting_sha256
    orchestrator = create_orchestrator(Path(params["workspace"]))
    initializer = orchestrator.auto_initializer
    census = str(orchestrator.config.census_path)
    first, first_s = _timed(initializer.ensure_initialized)
    _require_completed(first, [])
    hashed.clear()
    calls_ms = []
    for _ in range(params["calls"]):
        result, seconds = _timed(initializer.ensure_initialized)
        _require_completed(result, [])
        calls_ms.append(seconds * 1000)
    during_calls = hashed.count(census)
    stat = os.stat(census)
    os.utime(census, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    touched_ms, built = [], []
    for _ in range(params["calls"]):
        result, seconds = _timed(initializer.ensure_initialized)
        _require_completed(result, [])
        touched_ms.append(seconds * 1000)
        built += result.tables_created
    return {
        "first_call_ms": first_s * 1000,
        "calls_ms": calls_ms,
        "touched_calls_ms": touched_ms,
        "census_hashes_during_calls": during_calls,
        "census_hashes_after_touch": hashed.count(census) - during_calls,
        "tables_built_after_touch": built,
        "dbt_imported": any(name == "dbt" or name.startswith("dbt.") for name in sys.modules),
    }


def probe_heal(params: dict[str, Any]) -> dict[str, Any]:
    """Heal the table the harness dropped, then drop and heal again in the same (now warm) process."""
    instruments = DbtInstruments()
    instruments.install()
    import duckdb

    from planalign_orchestrator.dbt_runner import DbtRunner
    from planalign_orchestrator.factory import create_orchestrator

    orchestrator = create_orchestrator(Path(params["workspace"]))
    rounds = []
    for index in range(params["rounds"]):
        if index:
            with duckdb.connect(str(orchestrator.config.database_path)) as conn:
                conn.execute(f"drop table main.{HEAL_TABLE}")
        before = DbtRunner.invocation_count
        result, seconds = _timed(orchestrator.auto_initializer.ensure_initialized)
        _require_completed(result, [HEAL_TABLE])
        rounds.append(
            {
                "seconds": seconds,
                "invocations": DbtRunner.invocation_count - before,
                "tables_created": result.tables_created,
            }
        )
    return {"rounds": rounds, **instruments.report()}


def probe_simulate(params: dict[str, Any]) -> dict[str, Any]:
    """A multi-year simulation from an uninitialized workspace: init and each year timed apart."""
    instruments = DbtInstruments()
    instruments.install()
    from planalign_orchestrator.dbt_runner import DbtRunner
    from planalign_orchestrator.factory import create_orchestrator
    from planalign_orchestrator.progress import InitializationFinished, YearFinished, YearStarted
    from planalign_orchestrator.workspace import Workspace

    marks: dict[str, Any] = {"years_s": [], "headcount_end": [], "sql_s": [], "dbt_s": []}
    at_start: dict[str, float] = {}

    def observe(event: object) -> None:
        if isinstance(event, InitializationFinished):
            marks["init_s"] = event.result.duration_seconds
        elif isinstance(event, YearStarted):
            if event.index == 1:
                marks["years_started"] = time.perf_counter()
                marks["invocations_init"] = DbtRunner.invocation_count
                marks["parses_init"] = len(instruments.parse_s)
            at_start.update(sql=instruments.sql_s, invocations=len(instruments.invocations))
        elif isinstance(event, YearFinished):
            marks["years_s"].append(event.duration_seconds)
            marks["headcount_end"].append(event.summary.headcount_end)
            marks["sql_s"].append(instruments.sql_s - at_start["sql"])
            year_invocations = instruments.invocations[int(at_start["invocations"]) :]
            marks["dbt_s"].append(sum(invocation["seconds"] for invocation in year_invocations))

    config = Workspace.open(params["workspace"]).config
    orchestrator = create_orchestrator(config, on_progress=observe)
    orchestrator.execute_multi_year_simulation(params["first"], params["last"])
    years_total_s = time.perf_counter() - marks.pop("years_started")
    if len(marks["years_s"]) != params["last"] - params["first"] + 1:
        raise RuntimeError(f"expected every year to finish, got {marks['years_s']}")
    return {
        **marks,
        "years_total_s": years_total_s,
        "employee_years": snapshot_rows(config.database_path, config.scenario, params["first"], params["last"]),
        "invocations_years": DbtRunner.invocation_count - marks["invocations_init"],
        "parses_years": len(instruments.parse_s) - marks["parses_init"],
        **instruments.report(),
    }


def probe_ensemble(params: dict[str, Any]) -> dict[str, Any]:
    """Initialize (timed apart), then one in-process ensemble; per-year seconds from its progress events."""
    from planalign_orchestrator.dbt_runner import DbtRunner
    from planalign_orchestrator.progress import EnsembleYearFinished
    from planalign_orchestrator.session import WorkspaceSession

    session = WorkspaceSession.open(params["workspace"])
    _, init_s = _timed(session.initialize)
    years_s: list[float] = []

    def observe(event: object) -> None:
        if isinstance(event, EnsembleYearFinished):
            years_s.append(event.duration_seconds)

    before = DbtRunner.invocation_count
    result, ensemble_s = _timed(
        lambda: session.ensemble(params["first"], params["last"], seeds=params["seeds"], on_progress=observe)
    )
    # The ensemble keeps no snapshot rows; each seed-year's rows are its people employed on
    # Jan 1 plus its hires, both counted from the snapshot by fct_year_metrics (not is_new_hire, is_new_hire).
    metrics = result.metrics.sort_values(["seed", "year"])
    metrics = metrics.assign(employee_years=metrics["headcount_start"] + metrics["hires"])
    first_seed = metrics[metrics["seed"] == metrics["seed"].min()]
    return {
        "init_s": init_s,
        "ensemble_s": ensemble_s,
        "years_s": years_s,
        "invocations": DbtRunner.invocation_count - before,
        "rows": len(result.metrics),
        "employee_years": int(metrics["employee_years"].sum()),
        "employee_years_per_year": [int(n) for n in metrics.groupby("year")["employee_years"].sum()],
        "first_seed": int(first_seed["seed"].iloc[0]),
        "first_seed_employee_years": [int(n) for n in first_seed["employee_years"]],
    }


def snapshot_rows(database: Path, scenario: str, first: int, last: int) -> list[int]:
    """Employee-years simulated per year: the year's fct_workforce_snapshot rows (everyone employed in it)."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as conn:
        counts = dict(
            conn.execute(
                "select simulation_year, count(*) from main.fct_workforce_snapshot "
                "where scenario_id = $scenario and simulation_year between $first and $last group by all",
                {"scenario": scenario, "first": first, "last": last},
            ).fetchall()
        )
    return [counts.get(year, 0) for year in range(first, last + 1)]


def probe_floor(params: dict[str, Any]) -> dict[str, Any]:
    """What DuckDB alone needs per employee-year, on a COPY of a simulated workspace's database.

    The last simulated year's fct_workforce_snapshot slice goes into a scratch table
    (untimed); then, `repeats` times, that slice is written once more as a new year with
    one random draw per row (a hash of the employee and the repeat), committed and
    checkpointed, so it pays the same durable write a simulated year pays. Reported per
    row: no model of a year can write its rows for less.
    """
    import duckdb

    from planalign_orchestrator.database import duckdb_memory_limit

    year = int(params["year"])
    with duckdb.connect(params["database"]) as conn:
        conn.execute(f"set memory_limit = '{duckdb_memory_limit()}'")
        conn.execute(
            f"create table main.{FLOOR_TABLE} as "
            f"select * from main.fct_workforce_snapshot where simulation_year = {year}"
        )
        conn.execute("checkpoint")
        rows = conn.execute(f"select count(*) from main.{FLOOR_TABLE}").fetchall()[0][0]
        if not rows:
            raise RuntimeError(f"fct_workforce_snapshot has no rows for {year} in {params['database']}")
        columns = len(conn.execute(f"describe main.{FLOOR_TABLE}").fetchall())
        seconds = []
        for k in range(1, int(params["repeats"]) + 1):
            started = time.perf_counter()
            conn.execute("begin transaction")
            conn.execute(
                f"insert into main.{FLOOR_TABLE} select * replace ("
                f"simulation_year + {k} as simulation_year, "
                f"compensation * (1 + (hash(employee_id, {k}) % 1000) / 100000.0) as compensation) "
                f"from main.{FLOOR_TABLE} where simulation_year = {year}"
            )
            conn.execute("commit")
            conn.execute("checkpoint")
            seconds.append(time.perf_counter() - started)
        written = conn.execute(f"select count(*) from main.{FLOOR_TABLE} where simulation_year > {year}").fetchall()
    if written[0][0] != rows * len(seconds):
        raise RuntimeError(f"floor wrote {written[0][0]} rows, expected {rows * len(seconds)}")
    return {
        "year": year,
        "rows": rows,
        "columns": columns,
        "seconds": seconds,
        "us_per_row": [s / rows * 1e6 for s in seconds],
    }


PROBES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "init": probe_init,
    "noop": probe_noop,
    "heal": probe_heal,
    "simulate": probe_simulate,
    "ensemble": probe_ensemble,
    "floor": probe_floor,
}


def probe_main(argv: Sequence[str]) -> int:
    """Run one probe and write its report; probe_total_s lets the harness see start-up and exit."""
    started = time.perf_counter()
    kind, report_path, params = argv
    report = PROBES[kind](json.loads(params))
    report["probe_total_s"] = time.perf_counter() - started
    Path(report_path).write_text(json.dumps(report))
    return 0


# -- entry point ------------------------------------------------------------------------


SECTIONS = ("cold", "noop", "heal", "e2e", "scale", "imports", "ensemble", "million")
# Long measurements run only when named with --only.
DEFAULT_SECTIONS = ("cold", "noop", "heal", "e2e", "scale", "imports", "ensemble")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; scale 10k and 50k only")
    parser.add_argument("--keep-work", action="store_true", help="keep the workspaces under benchmarks/work/")
    # A smoke test of the harness: toy sizes, results in benchmarks/work/results-tiny.json.
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        default=list(DEFAULT_SECTIONS),
        help="run only these sections (cold is also run when noop/heal need a workspace); "
        "'million' (1M employees x 10 years, several minutes) runs only when named",
    )
    return parser.parse_args(argv)


class Sections:
    """Runs the selected measurements in order, logging each one's duration and the load after it.

    The 1-minute load average is kept per section because on a shared 2-core machine
    it is the first thing to check when a figure looks off.
    """

    def __init__(self, only: Sequence[str]) -> None:
        self.only = set(only)
        self.log: dict[str, dict[str, float]] = {}

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        print(f"- {name}...", end=" ", flush=True)
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self.log[name] = {"seconds": round(seconds, 1), "loadavg_1m_after": round(os.getloadavg()[0], 2)}
        print(f"{seconds:.0f} s", flush=True)

    def run(self, settings: Settings, work: WorkDirs) -> tuple[list[Figure], list[ScaleRun]]:
        with self.timed("warm-up (untimed)"):
            warm_up(work)
        figures: list[Figure] = []
        cold: list[Figure] = []
        scale_runs: list[ScaleRun] = []
        if self.only & {"cold", "noop", "heal"}:  # noop and heal start from a cold-initialized workspace
            with self.timed("cold initialization"):
                cold, workspace = measure_cold_init(settings, work)
            figures += cold
            if "noop" in self.only:
                with self.timed("no-op check and status"):
                    figures += measure_noop(settings, workspace)
            if "heal" in self.only:
                with self.timed("heal a dropped table"):
                    figures += measure_heal(settings, workspace)
        if "e2e" in self.only:
            with self.timed("empty folder -> 3-year simulation"):
                figures += measure_e2e(settings, work)
        if "scale" in self.only:
            with self.timed(f"scale {', '.join(size_label(n) for n in settings.scale_sizes)}"):
                scale, scale_runs = measure_scale(settings, work)
            figures += scale + fit_figures(scale_fit(scale_runs)) + dbt_cost_figures(cold, scale_runs)
        if "imports" in self.only:
            with self.timed("imports"):
                figures += measure_imports(settings, work)
        if "ensemble" in self.only:
            with self.timed(f"seed ensembles {', '.join(map(str, settings.ensemble_seed_counts))}"):
                figures += measure_ensemble(settings, work)
        if "million" in self.only:
            with self.timed(f"{size_label(settings.million_employees)} employees x 10 years"):
                figures += measure_million(settings, work)
        return figures, scale_runs


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.for_mode(args.quick, args.keep_work, args.tiny)
    info = machine()
    context: dict[str, Any] = {
        "mode": "tiny" if args.tiny else "quick" if args.quick else "full",
        "sections": args.only,
        "settings": asdict(settings),
        "loadavg_start": os.getloadavg(),
    }
    sections = Sections(args.only)
    work = WorkDirs(settings.keep_work)
    started = time.perf_counter()
    try:
        figures, scale_runs = sections.run(settings, work)
    finally:
        work.close()
    context.update(
        loadavg_end=os.getloadavg(), total_s=round(time.perf_counter() - started, 1), section_log=sections.log
    )
    fit = scale_fit(scale_runs)
    print_table(figures, fit, info)
    write_results(figures, fit, info, context, WORK_ROOT / "results-tiny.json" if args.tiny else RESULTS_PATH)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == PROBE_COMMAND:
        sys.exit(probe_main(sys.argv[2:]))
    sys.exit(main())
