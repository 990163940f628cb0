"""Each failure is printed once, and whole (issue 22, finding 4).

A failing pre-simulation hook used to be printed twice on stderr (an ERROR log line,
then the Error: paragraph) and a third time on stdout (the FAILED step line); a
config rule longer than 200 characters was cut mid-sentence.
"""

from __future__ import annotations

import pytest
import yaml

from planalign_orchestrator.config import load_config
from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.workspace import Workspace


def test_a_failing_initialization_hook_is_printed_once_with_its_fix(
    initialized_workspace: Workspace, planalign_cli
) -> None:
    initialized_workspace.database_path.write_bytes(b"not a database" * 1000)

    result = planalign_cli("simulate", "2025-2026", "--workspace", str(initialized_workspace.root))

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: Pre-simulation hook 'auto_initialize' failed; no simulation year was run.")
    assert lines[1].startswith("  To fix: Run `planalign init --recreate`")
    assert "      FAILED (" in result.stdout
    assert "not a readable DuckDB database" not in result.stdout  # said once, on stderr, with the fix


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        (
            "it's.duckdb",
            'rename it, e.g. simulation.duckdb (the folder may contain any character) (got "it\'s.duckdb")',
        ),
        (
            "a" * 300 + ".duckdb",
            "the file name is 307 bytes long, and at most 215 fit: file systems allow 255 bytes per name, and files "
            "kept beside the database add up to 40 (e.g. <name>.wal.refused-<UTC timestamp>); use a shorter name, "
            "e.g. simulation.duckdb (got 'aaaa",
        ),
    ],
)
def test_the_rules_for_the_database_file_name_are_shown_whole(workspace: Workspace, name: str, rule: str) -> None:
    config = yaml.safe_load(workspace.config_path.read_text())
    config["paths"]["database"] = name
    workspace.config_path.write_text(yaml.safe_dump(config))

    with pytest.raises(ConfigurationError) as caught:
        load_config(workspace.config_path)

    assert caught.value.key == "paths.database"
    assert rule in caught.value.message
    assert caught.value.message.count("characters)") == (1 if len(name) > 200 else 0)  # only the value is cut
