"""Census histories (issue 26): malformed ones refused with the file and the row; what consecutive snapshots show.

Snapshots are written here row by row, so every expected count is known by
construction; no dbt runs (the history is read by an in-memory DuckDB).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from planalign_orchestrator.calibration.backtest import history_figures
from planalign_orchestrator.calibration.expected import CurrentAssumptions
from planalign_orchestrator.calibration.history import load_history
from planalign_orchestrator.cli import main
from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.exceptions import HistoryValidationError
from planalign_orchestrator.workspace import dbt_project_dir

LEVELS = dbt_project_dir() / "seeds" / "config_job_levels.csv"
COLUMNS = (
    "employee_id",
    "birth_date",
    "hire_date",
    "termination_date",
    "level_id",
    "annual_compensation",
    "deferral_rate",
    "termination_reason",
)
# id, birth, hire, level, pay, deferral: the population of the first snapshot (31 Dec 2024)
PEOPLE = [
    ("E1", "1990-03-01", "2024-06-01", 1, 50000.0, 0.05),
    ("E2", "1980-07-15", "2015-01-10", 2, 80000.0, 0.06),
    ("E3", "1962-02-01", "2000-05-01", 3, 120000.0, 0.04),
    ("E4", "1985-11-30", "2020-09-01", 1, 60000.0, 0.0),
    ("E5", "1975-01-01", "2010-01-01", 4, 180000.0, 0.10),
]


def write_snapshot(path: Path, rows: Sequence[Sequence[object]], columns: Sequence[str] = COLUMNS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def start_rows() -> list[tuple[object, ...]]:
    return [(i, b, h, "", lvl, pay, d, "") for i, b, h, lvl, pay, d in PEOPLE]


def end_rows() -> list[tuple[object, ...]]:
    """31 Dec 2025: E1 left (termination), E3 retired, E2 promoted, E4 raised and enrolled, E5 missing; two hires."""
    return [
        ("E1", "1990-03-01", "2024-06-01", "2025-04-30", 1, 51500.0, 0.05, "termination"),
        ("E2", "1980-07-15", "2015-01-10", "", 3, 92000.0, 0.07, ""),
        ("E3", "1962-02-01", "2000-05-01", "2025-09-30", 3, 123600.0, 0.04, "retirement"),
        ("E4", "1985-11-30", "2020-09-01", "", 1, 61800.0, 0.03, ""),
        ("H1", "1995-05-05", "2025-03-01", "", 1, 45000.0, 0.06, ""),
        ("H2", "1998-08-08", "2025-10-01", "2025-12-01", 2, 65000.0, 0.0, "new_hire"),
    ]


@pytest.fixture
def history(tmp_path: Path) -> Path:
    folder = tmp_path / "history"
    write_snapshot(folder / "census_2024-12-31.csv", start_rows())
    write_snapshot(folder / "census_2025-12-31.csv", end_rows())
    return folder


def refusal(source: Path | list[Path]) -> HistoryValidationError:
    with pytest.raises(HistoryValidationError) as caught:
        load_history(source, job_levels_csv=LEVELS)
    return caught.value


# -- 2. malformed histories are refused with the file and the row ----------------------


def test_snapshots_given_out_of_date_order_are_refused_naming_both_files(history: Path) -> None:
    error = refusal([history / "census_2025-12-31.csv", history / "census_2024-12-31.csv"])

    assert error.census_path == history / "census_2024-12-31.csv"
    assert "out of order" in error.message
    assert "census_2024-12-31.csv (2024-12-31) is given after census_2025-12-31.csv (2025-12-31)" in error.message


def test_a_misdated_snapshot_is_refused_naming_the_file_and_the_rows_dated_after_it(history: Path) -> None:
    """Two snapshots swapped by their names: the 'earlier' file holds 2025 hires and leavers."""
    (history / "census_2024-12-31.csv").rename(history / "x.csv")
    (history / "census_2025-12-31.csv").rename(history / "census_2024-12-31.csv")
    (history / "x.csv").rename(history / "census_2025-12-31.csv")

    error = refusal(history)

    assert error.census_path == history / "census_2024-12-31.csv"
    assert "dated after the snapshot's own date 2024-12-31" in error.message
    assert "out of order" in error.message
    assert any(row.startswith("line 2: employee_id='E1'") for row in error.offending_rows)
    assert any("employee_id='H1'" in row for row in error.offending_rows)


def test_an_employee_active_again_after_leaving_is_refused_as_out_of_order(tmp_path: Path) -> None:
    folder = tmp_path / "history"
    left = [(*row[:3], "2024-05-01", *row[4:]) if row[0] == "E2" else row for row in start_rows()]
    write_snapshot(folder / "census_2024-12-31.csv", left)
    write_snapshot(folder / "census_2025-12-31.csv", start_rows())

    error = refusal(folder)

    assert error.census_path == folder / "census_2025-12-31.csv"
    assert "active here again with the same hire_date" in error.message
    assert error.offending_rows == ["line 3: employee_id='E2' (2024-05-01)"]


def test_duplicate_ids_within_a_snapshot_are_refused_with_the_file_and_lines(history: Path) -> None:
    rows = end_rows()
    write_snapshot(history / "census_2025-12-31.csv", [*rows, (" E4 ", *rows[3][1:])])

    error = refusal(history)

    assert error.census_path == history / "census_2025-12-31.csv"
    assert "duplicate employee_id" in error.message
    assert "snapshot of 2025-12-31" in error.message
    assert [row.split(":")[0] for row in error.offending_rows] == ["line 5", "line 8"]
    assert "census_2025-12-31.csv" in str(error)


def test_an_id_whose_birth_date_changes_is_refused_with_the_later_file_and_its_line(history: Path) -> None:
    rows = end_rows()
    rows[1] = ("E2", "1981-07-15", *rows[1][2:])
    write_snapshot(history / "census_2025-12-31.csv", rows)

    error = refusal(history)

    assert error.census_path == history / "census_2025-12-31.csv"
    assert "birth_date differs from the earlier snapshot census_2024-12-31.csv" in error.message
    assert error.offending_rows == ["line 3: employee_id='E2' (1980-07-15, 1981-07-15)"]


def test_a_single_snapshot_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "history"
    write_snapshot(folder / "census_2024-12-31.csv", start_rows())

    error = refusal(folder)

    assert error.census_path == folder
    assert "at least two dated snapshots; found only census_2024-12-31.csv" in error.message


def test_a_file_whose_name_carries_no_date_is_refused_naming_it(history: Path) -> None:
    write_snapshot(history / "latest.csv", end_rows())

    error = refusal(history)

    assert error.census_path == history / "latest.csv"
    assert "date cannot be read from its file name" in error.message
    assert "census_2025-12-31.csv" in error.remediation


def test_two_snapshots_of_one_date_are_refused(history: Path) -> None:
    write_snapshot(history / "2025.csv", end_rows())

    error = refusal(history)

    assert "two snapshots of 2025-12-31" in error.message


def test_an_unknown_termination_reason_is_refused_with_its_row(history: Path) -> None:
    rows = end_rows()
    rows[0] = (*rows[0][:7], "fired")
    write_snapshot(history / "census_2025-12-31.csv", rows)

    error = refusal(history)

    assert error.census_path == history / "census_2025-12-31.csv"
    assert "termination_reason is not one of" in error.message
    assert error.offending_rows == ["line 2: employee_id='E1' (fired)"]


def test_the_terminal_refuses_a_malformed_history_with_exit_2_naming_file_and_row(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = end_rows()
    write_snapshot(history / "census_2025-12-31.csv", [*rows, rows[1]])

    code = main(["fit", "--history", str(history), "--workspace", str(tmp_path / "ws")])

    err = capsys.readouterr().err
    assert code == 2
    assert f"Census history {history / 'census_2025-12-31.csv'}: duplicate employee_id" in err
    assert "line 3: employee_id='E2'" in err
    assert not (tmp_path / "ws" / "scenarios").exists(), "nothing is written for a refused history"


# -- what consecutive snapshots show ---------------------------------------------------


def test_leavers_hires_promotions_raises_and_deferral_changes_come_from_consecutive_snapshots(history: Path) -> None:
    loaded = load_history(history, job_levels_csv=LEVELS)
    experience = loaded.experience
    people = experience.experienced.set_index("employee_id")

    assert loaded.has_reasons
    assert people["outcome"].to_dict() == {
        "E1": "termination",
        "E2": "stay",
        "E3": "retirement",
        "E4": "stay",
        "E5": "unknown",  # missing from the later snapshot
    }
    assert people["exposure"].tolist() == [1.0] * 5
    # tenure on 1 Jan 2025 and age on 31 Dec 2025, as the engine measures a year
    assert people.loc["E1", "tenure"] == 0
    assert people.loc["E1", "age"] == 35
    assert people.loc["E2", "tenure"] == 9
    assert people.loc["E2", "age"] == 45
    assert people.loc["E3", "tenure"] == 24
    assert people.loc["E3", "age"] == 63
    assert people["promoted"].to_dict() == {"E1": False, "E2": True, "E3": False, "E4": False, "E5": False}
    assert people.loc["E4", "raise"] == pytest.approx(0.03)
    assert people.loc["E1", "raise"] == pytest.approx(0.03)  # a leaver's Jan 1 raise counts
    assert people.loc["E2", "raise"] != people.loc["E2", "raise"], "a promotion is not a raise"
    assert people.loc["E4", ["deferral_start", "deferral_end"]].tolist() == [0.0, 0.03]

    hires = experience.hires.set_index("employee_id")
    assert sorted(hires.index) == ["H1", "H2"]
    assert hires.loc["H1", "days_left"] == 306
    assert not hires.loc["H1", "left"]
    assert hires.loc["H2", "days_employed"] == 62
    assert hires.loc["H2", "left"]
    assert experience.headcount[["active_start", "active_end"]].values.tolist() == [[5, 3]]


def test_a_history_years_scored_figures_follow_the_metrics_models_definitions(history: Path) -> None:
    """31 Dec 2025: 4 active (E2, E4, H1; E5 missing counts as a leaver), 2 hires, 4 leavers (E1, E3, E5, H2)."""
    rows = end_rows()
    # an extract that still lists a leaver of 2024 is not a 2025 leaver
    write_snapshot(
        history / "census_2025-12-31.csv", [*rows, ("E9", "1970-01-01", "2001-01-01", "2024-03-01", 2, 1.0, 0, "")]
    )
    loaded = load_history(history, job_levels_csv=LEVELS)

    [figures] = history_figures(loaded, 2025, 2025, CurrentAssumptions.of(SimulationConfig())).to_dict("records")

    assert figures["headcount_end"] == 3
    assert figures["hires"] == 2
    assert figures["terminations"] == 4
    assert figures["average_compensation"] == pytest.approx((92000 + 61800 + 45000) / 3)
    assert figures["participation_rate"] == pytest.approx(1.0)
    assert figures["average_deferral_rate"] == pytest.approx((0.07 + 0.03 + 0.06) / 3)
    # experienced leavers by tenure at leaving: E1 (0 years) < 2, E5 (15, missing: on 31 Dec) 10-19, E3 (25) 20+
    assert [figures[f"leavers_tenure:{band}"] for band in ("< 2", "2-4", "5-9", "10-19", "20+")] == [1, 0, 0, 1, 1]
    assert figures["leavers_age:55-64"] == 1
    assert figures["leavers_age:45-54"] == 1


def test_parquet_snapshots_are_read_like_csv_ones(history: Path, tmp_path: Path) -> None:
    folder = tmp_path / "parquet"
    folder.mkdir()
    for source in history.iterdir():
        target = folder / source.with_suffix(".parquet").name
        with duckdb.connect() as conn:
            conn.execute(
                f"copy (select * from read_csv('{source}', header = true, all_varchar = true)) to '{target}' "
                "(format parquet)"
            )

    from_csv = load_history(history, job_levels_csv=LEVELS).experience
    from_parquet = load_history(folder, job_levels_csv=LEVELS).experience

    pd.testing.assert_frame_equal(from_parquet.experienced, from_csv.experienced)
    pd.testing.assert_frame_equal(from_parquet.hires, from_csv.hires)
