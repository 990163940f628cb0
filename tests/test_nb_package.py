"""planalign_nb stays a thin face: cheap to import, no SQL, no dbt arguments, no table logic."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "planalign_nb"
FORBIDDEN = {
    "an SQL query": re.compile(r"""["'][^"'\n]*\bselect\b[^"'\n]*\bfrom\b""", re.IGNORECASE),
    "an SQL statement": re.compile(
        r"""["']\s*(create|drop|insert|delete|update|alter)\s+(table|view|into|from)\b""", re.IGNORECASE
    ),
    "the catalog": re.compile(r"information_schema", re.IGNORECASE),
    "a query call": re.compile(r"\.(execute|fetch_df|sql)\("),
    "a dbt argument": re.compile(r"--(select|full-refresh|vars|project-dir|profiles-dir|target-path|threads)\b"),
    "a dbt or DuckDB import": re.compile(r"^\s*(import|from)\s+(dbt|duckdb)\b", re.MULTILINE),
    "a dbt runner": re.compile(r"\b(dbtRunner|DbtRunner)\b"),
}


def test_importing_planalign_nb_does_not_import_dbt_duckdb_or_pandas(
    run_python: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    completed = run_python(
        "import sys, planalign_nb\n"
        "loaded = sorted({name.split('.')[0] for name in sys.modules} & {'dbt', 'duckdb', 'pandas'})\n"
        "print(','.join(loaded))"
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == ""


@pytest.mark.parametrize("source", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.name)
def test_planalign_nb_holds_no_sql_dbt_arguments_or_table_checks(source: Path) -> None:
    text = source.read_text()

    found = [what for what, pattern in FORBIDDEN.items() if pattern.search(text)]

    assert found == []
