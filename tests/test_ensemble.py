"""Seed ensembles (issue 12) on real dbt, real DuckDB and a real Dask LocalCluster.

The shared ensemble is 5 seeds (42-46) of a generated 500-employee census over
2025-2027, run in-process once per session (tests/conftest.py: ensemble_template);
tests that write copy it. Figures are read from the database with duckdb directly or
through the single-run metrics (the session's comparison of those runs), never through the
ensemble code under test.
"""

from __future__ import annotations

import io
import math
import os
import signal
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pandas as pd
import pytest

from planalign_nb.ensemble import EnsembleView
from planalign_orchestrator.cli import main
from planalign_orchestrator.ensemble.metrics import METRICS
from planalign_orchestrator.ensemble.result import EnsembleResult
from planalign_orchestrator.exceptions import SimulationError
from planalign_orchestrator.progress import EnsembleChunkFinished, EnsembleYearFinished, ProgressEvent
from planalign_orchestrator.session import WorkspaceSession
from tests.conftest import ENSEMBLE_DETAIL_SEED, ENSEMBLE_SEEDS, ENSEMBLE_YEARS, copy_workspace
from tests.support.helpers import edit_config_sections

pytestmark = pytest.mark.dbt

FIRST, LAST = ENSEMBLE_YEARS
SEEDS = tuple(range(42, 42 + ENSEMBLE_SEEDS))


def stored(root: Path, min_seeds: int = 10) -> EnsembleResult:
    return WorkspaceSession.open(root, create=False).ensemble_result(FIRST, LAST, min_seeds=min_seeds)


def frame_of(result: EnsembleResult) -> pd.DataFrame:
    return result.metrics.sort_values(["seed", "year"], ignore_index=True)


# -- 1. every seed equals a single run with that seed ------------------------------------


def test_each_seed_of_an_ensemble_equals_a_single_run_with_that_seed(ensemble_template: Path, tmp_path: Path) -> None:
    workspace = copy_workspace(ensemble_template, tmp_path / "singles")
    session = WorkspaceSession(workspace)
    names = []
    for seed in SEEDS:
        single = session.for_scenario(f"seed_{seed}", {"simulation.random_seed": seed})
        single.simulate(FIRST, LAST)
        names.append(single.scenario.name)

    singles = session.compare(names, FIRST, LAST).metrics
    ensemble = frame_of(stored(workspace.root))

    assert sorted(ensemble["seed"].unique()) == list(SEEDS)
    # a comparison holds the numeric metrics; the flags (adp_fail, ...) are read from the model itself
    numeric = [name for name in METRICS if name in singles.columns]
    flags = [name for name in METRICS if name not in singles.columns]
    for seed, name in zip(SEEDS, names, strict=True):
        expected = singles[singles["scenario"] == name].set_index("year")[numeric]
        actual = ensemble[ensemble["seed"] == seed].set_index("year")[numeric]
        pd.testing.assert_frame_equal(actual, expected, check_exact=True, check_dtype=False, check_names=False)
        with duckdb.connect(str(workspace.root / "simulation.duckdb"), read_only=True) as conn:
            model = conn.execute(
                f"select {', '.join(flags)} from main.fct_year_metrics where scenario_id = ? order by simulation_year",
                [name],
            ).fetchall()
        kept = ensemble[ensemble["seed"] == seed].sort_values("year")[flags]
        assert [tuple(bool(value) for value in row) for row in kept.itertuples(index=False)] == model


def test_the_kept_seed_detail_is_the_single_runs_rows_exactly(ensemble_template: Path, tmp_path: Path) -> None:
    workspace = copy_workspace(ensemble_template, tmp_path / "detail")
    single = WorkspaceSession(workspace).for_scenario("alone", {"simulation.random_seed": ENSEMBLE_DETAIL_SEED})
    single.simulate(FIRST, LAST)

    with duckdb.connect(str(workspace.database_path), read_only=True) as conn:
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns where table_name = 'fct_workforce_snapshot' "
                "and column_name <> 'scenario_id' order by ordinal_position"
            ).fetchall()
        ]
        listed = ", ".join(columns)
        kept = f"select {listed} from main.ensemble_detail_fct_workforce_snapshot"
        alone = f"select {listed} from main.fct_workforce_snapshot where scenario_id = 'alone'"
        only_kept = conn.execute(f"select count(*) from ({kept} except all {alone})").fetchone()
        only_alone = conn.execute(f"select count(*) from ({alone} except all {kept})").fetchone()
        rows = conn.execute(f"select count(*) from ({kept})").fetchone()

    assert rows is not None
    assert rows[0] > 3 * 400
    assert only_kept == (0,)
    assert only_alone == (0,)


def test_a_normal_simulate_is_one_seed_and_keeps_every_seeds_rows_out(ensemble_template: Path, tmp_path: Path) -> None:
    workspace = copy_workspace(ensemble_template, tmp_path / "normal")
    WorkspaceSession(workspace).simulate(FIRST, LAST)

    with duckdb.connect(str(workspace.database_path), read_only=True) as conn:
        seeds = conn.execute("select distinct random_seed from main.fct_workforce_snapshot").fetchall()
        scratch = (workspace.root / ".planalign_ensemble").exists()

    assert seeds == [(42,)]
    assert not scratch  # the ensemble's working rows went with its scratch database


# -- 2. in-process and on a LocalCluster: identical ----------------------------------------


def test_a_local_cluster_gives_the_same_metric_tables_as_in_process(
    ensemble_template: Path, tmp_path: Path, dask_client: Any
) -> None:
    workspace = copy_workspace(ensemble_template, tmp_path / "distributed")
    events: list[ProgressEvent] = []

    result = WorkspaceSession(workspace).ensemble(
        FIRST, LAST, seeds=ENSEMBLE_SEEDS, client=dask_client, on_progress=events.append
    )

    pd.testing.assert_frame_equal(frame_of(result), frame_of(stored(ensemble_template)), check_exact=True)
    assert result.mode == "distributed"
    chunks = [event for event in events if isinstance(event, EnsembleChunkFinished)]
    assert [event.index for event in chunks] == [1, 2, 3, 4]
    assert all(event.error is None for event in chunks)
    assert sorted(seed for event in chunks for seed in _seeds_of(event.chunk)) == list(SEEDS)


def _seeds_of(label: str) -> list[int]:
    text = label.removeprefix("seeds ")
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(part) for part in text.split(",")]


# -- 4. a killed worker: completed correctly, or failed naming the chunk ----------------------


def test_killing_a_worker_mid_run_never_returns_a_partial_ensemble(
    ensemble_template: Path, tmp_path: Path, dask_client: Any
) -> None:
    workspace = copy_workspace(ensemble_template, tmp_path / "killed")
    session = WorkspaceSession(workspace)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = session.ensemble(FIRST, LAST, seeds=ENSEMBLE_SEEDS, client=dask_client, chunks=2)
        except SimulationError as error:
            outcome["error"] = error

    runner = threading.Thread(target=run)
    runner.start()
    victim = _kill_a_worker_running_a_chunk(dask_client)
    runner.join(timeout=600)

    assert victim is not None, "no worker was seen running a chunk"
    assert not runner.is_alive()
    if "result" in outcome:
        expected = frame_of(stored(ensemble_template))
        pd.testing.assert_frame_equal(frame_of(outcome["result"]), expected, check_exact=True)
        pd.testing.assert_frame_equal(frame_of(stored(workspace.root)), frame_of(stored(ensemble_template)))
    else:
        message = str(outcome["error"])
        assert "chunk seeds" in message
        assert "No ensemble results were stored" in message


def _kill_a_worker_running_a_chunk(client: Any, timeout: float = 120) -> str | None:
    """SIGKILL the process of a worker while it runs an ensemble chunk (its nanny starts a new one)."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for address, keys in client.processing().items():
            if any("planalign-ensemble" in str(key) for key in keys):
                time.sleep(1.0)  # inside the chunk's first dbt invocation
                os.kill(pids[address], signal.SIGKILL)
                return str(address)
        time.sleep(0.05)
    return None


# -- 3. bands: ordered with 100 seeds, withheld below the minimum ------------------------


def test_100_seeds_give_ordered_bands_for_terminations_and_employer_contributions(
    ensemble_template: Path, tmp_path: Path
) -> None:
    workspace = copy_workspace(ensemble_template, tmp_path / "hundred")
    events: list[ProgressEvent] = []

    result = WorkspaceSession(workspace).ensemble(FIRST, LAST, seeds=100, on_progress=events.append)

    bands = result.bands.set_index(["metric", "year"])
    for metric in ("terminations", "employer_contributions"):
        for year in range(FIRST, LAST + 1):
            band = bands.loc[(metric, year)]
            assert band.p10 < band.p50 < band.p90, (metric, year, band.to_dict())
            assert band.n_seeds == 100
            assert not band.withheld
    years = [event for event in events if isinstance(event, EnsembleYearFinished)]
    assert [(event.year, event.seeds) for event in years] == [(year, 100) for year in range(FIRST, LAST + 1)]
    figure = EnsembleView(result).fan_chart()
    assert len(figure.axes[0].collections) == 2  # the P10-P90 and P25-P75 bands around the P50 line


def test_below_the_minimum_number_of_seeds_the_bands_are_withheld_not_zero(ensemble_template: Path) -> None:
    five = stored(ensemble_template)
    allowed = stored(ensemble_template, min_seeds=5)

    withheld = five.bands
    assert withheld["withheld"].all()
    assert (withheld["n_seeds"] == 5).all()
    statistics = ["mean", "std", "p10", "p25", "p50", "p75", "p90"]
    assert withheld[statistics].isna().all().all()
    assert "withheld" in str(five)
    assert not allowed.bands["withheld"].any()
    assert allowed.bands[statistics].notna().all().all()


def test_exceedance_is_the_share_of_seeds_above_the_threshold(ensemble_template: Path) -> None:
    result = stored(ensemble_template)
    values = result.metrics[result.metrics["year"] == LAST]["employer_contributions"].sort_values()
    threshold = float(values.iloc[1])  # seeds strictly above the second smallest: 3 of 5

    probability = result.exceedance("employer_contributions", threshold)

    assert list(probability.index) == list(range(FIRST, LAST + 1))
    assert math.isclose(probability.loc[LAST], 3 / 5)


# -- freshness, the terminal and Excel -----------------------------------------------------


def test_an_ensemble_whose_inputs_changed_is_stale_and_never_shown(ensemble_template: Path, tmp_path: Path) -> None:
    workspace = copy_workspace(ensemble_template, tmp_path / "stale")
    assert len(stored(workspace.root).metrics) == ENSEMBLE_SEEDS * (LAST - FIRST + 1)

    edit_config_sections(workspace, workforce={"termination_rate": 0.2})

    with pytest.raises(SimulationError) as caught:
        stored(workspace.root)
    found = WorkspaceSession.open(workspace.root, create=False).ensemble_status()
    assert found is not None
    line, needs_run = found
    assert needs_run
    assert line.startswith("Ensemble (baseline): 5 seeds, 2025-2027, stale: ")
    assert "workforce.termination_rate" in line
    assert "stale" in str(caught.value)
    assert "workforce.termination_rate" in str(caught.value)
    assert "--seeds" in (caught.value.remediation or "")


def test_the_cli_runs_an_ensemble_of_a_seed_list_and_writes_its_workbook(
    ensemble_template: Path, tmp_path: Path
) -> None:
    workspace = copy_workspace(ensemble_template, tmp_path / "cli")
    workbook = tmp_path / "ensemble.xlsx"
    out = io.StringIO()

    with redirect_stdout(out):
        code = main(
            [
                "simulate",
                "2025-2026",
                "-w",
                str(workspace.root),
                "--seed-list",
                "42,43",
                "--min-seeds",
                "2",
                "--excel",
                str(workbook),
            ]
        )

    assert code == 0, out.getvalue()
    text = out.getvalue()
    assert "Ensemble of 2 seeds, scenario 'baseline', 2025-2026" in text
    assert "2025: 2 seeds" in text
    assert "2026: 2 seeds" in text
    sheets = openpyxl.load_workbook(workbook, read_only=True).sheetnames
    assert sheets == ["bands", "seed_metrics", "run"]
    seed_rows = pd.read_excel(workbook, sheet_name="seed_metrics")
    assert sorted(set(seed_rows["seed"])) == [42, 43]
    assert len(seed_rows) == 4


def test_the_cli_refuses_a_scheduler_without_seeds(tmp_path: Path) -> None:
    err = io.StringIO()
    from contextlib import redirect_stderr

    with redirect_stderr(err):
        code = main(["simulate", "2025", "-w", str(tmp_path / "ws"), "--scheduler", "tcp://127.0.0.1:1"])

    assert code == 2
    assert "--scheduler and --excel apply to seed ensembles only" in err.getvalue()


def test_the_default_path_never_imports_dask(run_python: Any) -> None:
    result = run_python(
        "import sys\n"
        "import planalign_nb\n"
        "import planalign_orchestrator.cli, planalign_orchestrator.ensemble.runner\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('dask', 'distributed')))\n"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
