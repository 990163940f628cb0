"""`planalign census generate` and argument errors, as a user runs them."""

from __future__ import annotations

import csv
from pathlib import Path


def test_census_generate_writes_a_deterministic_census(planalign_cli, tmp_path: Path) -> None:
    first = planalign_cli("census", "generate", "--employees", "250", "--seed", "3", "--out", "a.csv")
    second = planalign_cli("census", "generate", "--employees", "250", "--seed", "3", "--out", "b.csv")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    rows = list(csv.DictReader((tmp_path / "a.csv").open()))
    assert len(rows) == 250
    assert {"employee_id", "birth_date", "hire_date", "level_id", "annual_compensation"} <= set(rows[0])
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_malformed_year_range_is_refused_with_an_example(planalign_cli) -> None:
    result = planalign_cli("simulate", "2025..2027")

    assert result.returncode == 2
    assert "2025-2027" in result.stderr
    assert "To fix:" in result.stderr


def test_non_positive_employee_count_is_refused(planalign_cli, tmp_path: Path) -> None:
    result = planalign_cli("census", "generate", "--employees", "0", "--out", "x.csv")

    assert result.returncode == 2
    assert "--employees" in result.stderr
    assert not (tmp_path / "x.csv").exists()
