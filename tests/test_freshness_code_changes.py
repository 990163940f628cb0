"""Judging dbt code by what it can change: documentation, comments and formatting never make anything stale.

The canonicalizer is tested directly (no dbt); the stories run real dbt and DuckDB: a
simulated workspace is judged against a private copy of the dbt project (the
repository's dbt/ is never edited) after one edit, on both sides of the line: edits
that cannot change a row leave it up to date, edits that can make exactly the tables
and years built from the file stale, naming it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from planalign_orchestrator import factory
from planalign_orchestrator.freshness import inputs
from planalign_orchestrator.freshness.canonical import canonical_sql, canonical_yaml
from planalign_orchestrator.freshness.checker import FINGERPRINTED_DIFFERENTLY
from planalign_orchestrator.freshness.inputs import FileDigests
from planalign_orchestrator.freshness.state import SCHEMA
from planalign_orchestrator.progress import NodeStarted, YearFinished, YearStarted
from planalign_orchestrator.session import WorkspaceSession
from planalign_orchestrator.workspace import Workspace
from tests.conftest import SIMULATED_YEARS
from tests.support.helpers import ALL_REQUIRED, REQUIRED_FOUNDATION, EventRecorder, copy_dbt_project, query

YEARS = list(range(SIMULATED_YEARS[0], SIMULATED_YEARS[1] + 1))


# -- the canonical form of SQL --------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("select a, b\nfrom t", "select a, b -- the two columns\nfrom t"),
        ("select a, b from t", "select a, /* b is new */ b from t"),
        ("select a from t", "select a {# a Jinja comment #} from t"),
        ("select a, b from t", "select a,\n{#- trimmed\n   over lines -#}\n    b from t"),
        ("select a, b from t where a > 1", "select\n    a,\n    b\nfrom t\nwhere a > 1\n"),
        ("select a,b from t", "select a ,  b  from t"),
        ("from {{ ref('t') }} as x", "from {{ref('t')}}\n    as x"),
        (
            "{%- set y = int_var('simulation_year') -%}\nselect 1",
            "  {%- set y = int_var( 'simulation_year' ) -%}\n\nselect 1",
        ),
        ("select a from t", "select a/* glued */from t"),
    ],
    ids=[
        "line-comment",
        "block-comment",
        "jinja-comment",
        "jinja-comment-trimming",
        "reindent",
        "commas",
        "jinja-tag",
        "jinja-set",
        "glued-comment",
    ],
)
def test_comments_and_formatting_leave_the_canonical_sql_unchanged(before: str, after: str) -> None:
    assert canonical_sql(after) == canonical_sql(before)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("select 'a -- b' as c", "select 'a -- x' as c"),
        ("select '--' as c", "select '-' as c"),
        ("select '/* a */' as c", "select '/* b */' as c"),
        ("select 'it''s -- a' as c", "select 'it''s -- b' as c"),
        ("select E'it\\'s -- a' as c", "select E'it\\'s -- b' as c"),
        ("select $$ -- a $$ as c", "select $$ -- b $$ as c"),
        ('select "col -- a" from t', 'select "col -- b" from t'),
        ("select 'a  b' as c", "select 'a b' as c"),
        ('{{ "it\'s -- a" }}', '{{ "it\'s -- b" }}'),
        ("{{ 'it\\'s -- a' }} as c", "{{ 'it\\'s -- b' }} as c"),
        ("select a b from t", "select ab from t"),
        ("select 'a' 'b'", "select 'a''b'"),
        ("select {{ x }} {{ y }}", "select {{ x }}{{ y }}"),
        ("select a {#- x -#} b", "select a b"),
        ("-- {% if var('a') %}\nselect 1", "-- {% if var('b') %}\nselect 1"),
        ("/* {{ x }} */ select 1", "/* {{ y }} */ select 1"),
        ("{% raw %}{# a #}{% endraw %}", "{% raw %}{# b #}{% endraw %}"),
        ("select 1 - -1", "select 1 --1"),
        ("select 'unterminated -- a", "select 'unterminated -- b"),
    ],
    ids=[
        "literal-with-dashes",
        "dashes-literal",
        "literal-with-block-comment",
        "escaped-quote",
        "backslash-escape",
        "dollar-quoted",
        "quoted-identifier",
        "whitespace-in-literal",
        "jinja-double-quoted",
        "jinja-backslash",
        "words-joined",
        "adjacent-literals",
        "adjacent-jinja",
        "jinja-comment-trims",
        "commented-out-jinja-still-runs",
        "block-comment-with-jinja",
        "raw-block",
        "minus-minus",
        "unterminated-literal",
    ],
)
def test_what_sql_can_read_changes_the_canonical_sql(before: str, after: str) -> None:
    assert canonical_sql(after) != canonical_sql(before)


# -- the canonical form of YAML ------------------------------------------------------------

PROPERTIES = """\
version: 2
models:
  - name: m
    description: The model.
    config:
      materialized: table
      tags: [yearly]
    columns:
      - name: a
        description: Column a.
        data_tests: [not_null]
      - name: b
        data_type: integer
"""


@pytest.mark.parametrize(
    "after",
    [
        PROPERTIES.replace("The model.", "The model, reworded\n      over two lines."),
        PROPERTIES.replace("Column a.", "Column a, documented."),
        PROPERTIES.replace("data_tests: [not_null]", "data_tests: [not_null, unique]"),
        PROPERTIES.replace("        data_tests: [not_null]\n", "        tests: [unique]\n        meta: {owner: hr}\n"),
        PROPERTIES.replace("    description: The model.\n", "    docs: {show: false}\n    # who reads this\n"),
        PROPERTIES.replace(
            "      materialized: table\n      tags: [yearly]\n", "      tags: [yearly]\n      materialized: table\n"
        ),
        PROPERTIES + "      - name: c\n        description: Documented, read by nothing.\n",
        PROPERTIES + "unit_tests:\n  - name: t\n    model: m\n",
    ],
    ids=[
        "description",
        "column-description",
        "data-test",
        "tests-and-meta",
        "docs-and-comment",
        "key-order",
        "documented-column",
        "unit-test",
    ],
)
def test_documentation_and_tests_leave_the_canonical_yaml_unchanged(after: str) -> None:
    assert canonical_yaml(after) == canonical_yaml(PROPERTIES)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (PROPERTIES, PROPERTIES.replace("materialized: table", "materialized: view")),
        (PROPERTIES, PROPERTIES.replace("tags: [yearly]", "tags: [yearly, headcount]")),
        (PROPERTIES, PROPERTIES.replace("data_type: integer", "data_type: bigint")),
        (PROPERTIES, PROPERTIES.replace("  - name: m\n", "  - name: m2\n")),
        ("vars:\n  description: 2\n", "vars:\n  description: 1\n"),
        ("models: [a\n", "models: [b\n"),
        ("a: &x [*x, 1]\n", "a: &x [*x, 2]\n"),
    ],
    ids=["materialization", "tag", "data-type", "model-name", "a-var-named-description", "unparseable", "self-anchor"],
)
def test_what_a_build_reads_changes_the_canonical_yaml(before: str, after: str) -> None:
    assert canonical_yaml(after) != canonical_yaml(before)


# -- digests: named for their form, cached by size and mtime --------------------------------


@pytest.fixture
def no_known_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    """FileDigests as in a new process: nothing computed or remembered yet."""
    monkeypatch.setattr(FileDigests, "_known", {})


def test_code_is_digested_in_its_canonical_form_and_anything_else_by_its_bytes(
    tmp_path: Path, no_known_digests: None
) -> None:
    model, properties, seed = tmp_path / "m.sql", tmp_path / "_m.yml", tmp_path / "s.csv"
    model.write_text("select 1 -- one\n")
    properties.write_text("version: 2\n")
    seed.write_text("a,b\n1,2\n")

    assert FileDigests.digest(model).startswith("sql-v1:")
    assert FileDigests.digest(properties).startswith("yaml-v1:")
    assert FileDigests.digest(seed) == hashlib.sha256(seed.read_bytes()).hexdigest()


def test_a_canonical_digest_is_kept_until_the_files_size_or_mtime_changes(
    tmp_path: Path, no_known_digests: None
) -> None:
    model = tmp_path / "m.sql"
    model.write_text("select a from t")
    digest = FileDigests.digest(model)
    stat = model.stat()

    model.write_text("select b from t")  # same size; the mtime put back: not read again
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert FileDigests.digest(model) == digest
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert FileDigests.digest(model) != digest


def test_a_persisted_digest_of_bytes_is_never_taken_for_a_canonical_one(tmp_path: Path, no_known_digests: None) -> None:
    model, seed = tmp_path / "m.sql", tmp_path / "s.csv"
    model.write_text("select 1 -- one\n")
    seed.write_text("a\n1\n")
    stamps = {path: FileDigests.stamp(path) for path in (model, seed)}
    old = "0" * 64  # what an earlier release persisted: sha256 of the bytes, without a form

    FileDigests.remember(
        [(str(path), stamp.size, stamp.mtime_ns, old) for path, stamp in stamps.items() if stamp is not None]
    )

    assert FileDigests.digest(model).startswith("sql-v1:"), "the model's digest of bytes was left out"
    assert FileDigests.digest(seed) == old, "a seed is judged by its bytes: its persisted digest still counts"


# -- stories on real dbt and DuckDB ------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the dbt project, the one every session of this test builds and judges with."""
    copy = copy_dbt_project(tmp_path / "dbt")
    monkeypatch.setattr(factory, "dbt_project_dir", lambda: copy)
    return copy


def _edit(project: Path, relative: str, old: str, new: str) -> None:
    path = project / relative
    text = path.read_text()
    assert old in text, f"{relative} changed shape; update this test"
    path.write_text(text.replace(old, new, 1))


def _reindent(project: Path, relative: str) -> None:
    """Another formatting of the same model: indented deeper, blank lines doubled, spacing inside calls."""
    path = project / relative
    text = path.read_text()
    for old, new in [
        ("as decimal(14, 2)) as deferral_compensation", "as decimal( 14,2 ) ) as deferral_compensation"),
        ("date_diff('day', {{ year_start }}, {{ year_end }})", "date_diff( 'day',{{year_start}},{{ year_end }} )"),
    ]:
        assert old in text, f"{relative} changed shape; update this test"
        text = text.replace(old, new)
    lines = ["    " + line + "  " if line.strip() else "" for line in text.splitlines()]
    path.write_text("\n".join(lines).replace("\n\n", "\n\n\n") + "\n")


SNAPSHOT_MODEL = "models/marts/fct_workforce_snapshot.sql"
CHANGES_MODEL = "models/simulation/int_yearly_experienced_changes.sql"
ELIGIBILITY_MACROS = "macros/eligibility.sql"
SIMULATION_YAML = "models/simulation/_simulation.yml"
MARTS_YAML = "models/marts/_marts.yml"
FOUNDATION_YAML = "models/foundation/_foundation.yml"
BASELINE_MODEL = "models/foundation/int_baseline_workforce.sql"

NO_CHANGE = {
    "description-in-yaml": lambda p: _edit(
        p,
        SIMULATION_YAML,
        "Everyone employed on Jan 1 of var simulation_year.",
        "Everyone employed on January 1st of var\n      simulation_year (reworded).",
    ),
    "column-doc-and-data-test-in-yaml": lambda p: _edit(
        p,
        SIMULATION_YAML,
        "        description: Employee identifier.\n        data_tests: [not_null]\n",
        "        # documented again\n        description: The employee.\n        data_tests: [not_null, unique]\n",
    ),
    "sql-comments": lambda p: _edit(
        p,
        SNAPSHOT_MODEL,
        "plan_year as (\n",
        "-- the seed's plan year, once\nplan_year as ( /* one row a seed */\n    {# from fct_year_plan #}\n",
    ),
    "reindented-model": lambda p: _reindent(p, SNAPSHOT_MODEL),
}


@pytest.mark.dbt
@pytest.mark.parametrize("edit", NO_CHANGE.values(), ids=NO_CHANGE.keys())
def test_docs_comments_and_formatting_leave_every_table_and_year_up_to_date(
    simulated_workspace: Workspace, project: Path, edit: Callable[[Path], None]
) -> None:
    session = WorkspaceSession(simulated_workspace)
    assert session.status().up_to_date, "the copy of the project is judged like the original"

    edit(project)

    status = session.status()
    assert status.up_to_date, [item.explanation for item in [*status.tables, *status.years] if item.state.needs_build]
    plan = session.plan(*SIMULATED_YEARS)
    assert plan.tables_to_build == []
    assert plan.years_to_run == []


@pytest.mark.dbt
def test_after_docs_comments_and_formatting_a_run_rebuilds_nothing(
    simulated_workspace: Workspace, project: Path
) -> None:
    for edit in NO_CHANGE.values():
        edit(project)
    recorder = EventRecorder()

    WorkspaceSession(simulated_workspace).simulate(*SIMULATED_YEARS, on_progress=recorder)

    assert recorder.of_type(NodeStarted) == []
    assert recorder.of_type(YearStarted) == []
    assert [event.year for event in recorder.of_type(YearFinished) if event.reused] == YEARS


@dataclass(frozen=True)
class Change:
    """An edit that can change rows, and what it must make stale."""

    file: str
    old: str
    new: str
    readers: tuple[str, ...] = ()  # required tables whose recipe lists the file
    downstream: tuple[str, ...] = ()  # required tables that read those
    years_read_it: bool = False  # the yearly models list the file (else they read a stale table)

    @property
    def stale_tables(self) -> list[str]:
        return sorted([*self.readers, *self.downstream])


DOWNSTREAM_OF_BASELINE = tuple(name for name in REQUIRED_FOUNDATION if name != "int_baseline_workforce")
CHANGES = {
    "sql-expression": Change(
        BASELINE_MODEL,
        "where hire_date < {{ baseline_date }}",
        "where hire_date <= {{ baseline_date }}",
        readers=("int_baseline_workforce",),
        downstream=DOWNSTREAM_OF_BASELINE,
    ),
    "string-literal-with-dashes": Change(
        ELIGIBILITY_MACROS, "then 'new_hire' end", "then 'new_hire -- first year' end", years_read_it=True
    ),
    "tag-in-sql-config": Change(CHANGES_MODEL, "tags=['yearly']", "tags=['yearly', 'headcount']", years_read_it=True),
    "materialization-in-yaml": Change(
        FOUNDATION_YAML,
        "  - name: int_employee_benefits\n",
        "  - name: int_employee_benefits\n    config:\n      materialized: view\n",
        readers=tuple(REQUIRED_FOUNDATION),
    ),
    "tag-in-yaml": Change(
        MARTS_YAML,
        "  - name: fct_workforce_snapshot\n",
        "  - name: fct_workforce_snapshot\n    config:\n      tags: [headcount]\n",
        years_read_it=True,
    ),
}


@pytest.mark.dbt
@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_logic_literals_and_build_config_make_what_is_built_from_them_stale_naming_the_file(
    simulated_workspace: Workspace, project: Path, change: Change
) -> None:
    _edit(project, change.file, change.old, change.new)
    session = WorkspaceSession(simulated_workspace)

    status = session.status()

    stale = {item.table.name: item.explanation for item in status.tables if item.state.needs_build}
    assert sorted(stale) == change.stale_tables
    for name in change.readers:
        assert f"dbt code {change.file} changed since the build on" in stale[name]
    for name in change.downstream:
        assert "upstream int_baseline_workforce" in stale[name]
    assert [year.year for year in status.years_needing_run] == YEARS
    why = status.years_needing_run[0].explanation
    if change.years_read_it:
        assert f"dbt code {change.file} changed since the build on" in why
    else:
        assert f"upstream {', '.join(change.stale_tables)} changed" in why
    plan = session.plan(*SIMULATED_YEARS)
    assert sorted(plan.tables_to_build) == change.stale_tables
    assert plan.years_to_run == YEARS


def _digest_of_bytes(path: Path) -> str:
    """How every file was digested before canonical forms."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.dbt
def test_a_workspace_recorded_from_digests_of_bytes_is_stale_once_saying_why_then_rebuilt(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An earlier release's records: every table and year is rebuilt once, for a reason that says so."""
    first = SIMULATED_YEARS[0]
    with monkeypatch.context() as earlier_release:
        earlier_release.setattr(inputs, "content_digest", _digest_of_bytes)
        earlier_release.setattr(FileDigests, "_known", {})
        WorkspaceSession(workspace).simulate(first, first)
    persisted = query(workspace.database_path, f"select sha256 from {SCHEMA}.file_digests where path like '%.sql'")
    assert persisted, "the earlier release persisted its digests of the models"
    assert all(":" not in digest for (digest,) in persisted)
    monkeypatch.setattr(FileDigests, "_known", {})  # a new process: only the persisted digests are known
    session = WorkspaceSession(workspace)

    status = session.status()

    assert sorted(item.table.name for item in status.tables_needing_build) == sorted(ALL_REQUIRED)
    assert [year.year for year in status.years_needing_run] == [first]
    for item in [*status.tables_needing_build, *status.years_needing_run]:
        assert FINGERPRINTED_DIFFERENTLY in item.explanation
        assert "dbt code models/" not in item.explanation, "no file was changed by anyone"
    recorder = EventRecorder()
    session.simulate(first, first, on_progress=recorder)
    assert sorted(
        {event.node_name for event in recorder.of_type(NodeStarted) if event.step_name != "simulate"}
    ) == sorted(ALL_REQUIRED)
    assert session.status().up_to_date
    persisted = query(workspace.database_path, f"select sha256 from {SCHEMA}.file_digests where path like '%.sql'")
    assert all(digest.startswith("sql-v1:") for (digest,) in persisted)
