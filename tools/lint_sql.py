"""Run sqlfluff over the dbt project: `python tools/lint_sql.py [lint|fix] [paths...]`.

sqlfluff's dbt templater compiles the project as dbt would, which needs the profile's
database path (set per invocation by the engine, see dbt/profiles.yml) and writes
dbt's target/ and logs/. Both go to a throwaway folder here, so linting never
touches the shared dbt/ project or a workspace.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def main(arguments: list[str]) -> int:
    command = arguments[:1] or ["lint"]
    paths = arguments[1:] or ["dbt"]
    with tempfile.TemporaryDirectory(prefix="planalign-sqlfluff-") as scratch:
        environment = {
            **os.environ,
            "PLANALIGN_DB_PATH": str(Path(scratch) / "lint.duckdb"),
            # stg_census needs a census path to compile; linting never reads the file.
            "PLANALIGN_CENSUS_PATH": str(Path(scratch) / "census.csv"),
            "DBT_TARGET_PATH": str(Path(scratch) / "target"),
            "DBT_LOG_PATH": str(Path(scratch) / "logs"),
            "DO_NOT_TRACK": "1",
        }
        completed = subprocess.run(
            [sys.executable, "-m", "sqlfluff", *command, *paths], cwd=REPO_ROOT, env=environment, check=False
        )
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
