"""Nondiscrimination tests (issue 25): ADP/ACP, corrections, HCE and key employees, coverage, top-heavy.

Each population is hand-made so the answer is known (DOMAIN.md "Nondiscrimination
testing"): nobody leaves, pay never changes, nobody escalates or is auto-enrolled, so
every deferral ratio is the census rate and every figure below is worked out here by
hand. Everyone is hired in 2020, so last year's pay (the HCE look-back) is the census
pay. The database is read with duckdb directly, never through the engine under test.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from planalign_orchestrator.census import REQUIRED_COLUMNS
from planalign_orchestrator.exceptions import ConfigurationError
from planalign_orchestrator.session import WorkspaceSession, generate_census
from planalign_orchestrator.workspace import Workspace
from tests.support.helpers import edit_config_sections

FIXED: dict[str, dict[str, object]] = {
    "simulation": {"target_growth_rate": 0.0},
    "workforce": {"termination_rate": 0.0, "new_hire_termination_rate": 0.0},
    "compensation": {"cola_rate": 0.0, "merit_rate": 0.0, "promotion_probability": 0.0},
    "plan": {"auto_enrollment": False, "auto_escalation": False, "opt_out_rate": 0.0},
}
# (employee_id, pay, deferral rate[, extra columns]); NHCEs at 50,000 each
NHCE_AT_10 = [("N1", "50000", "0.10"), ("N2", "50000", "0.10")]
NHCE_AT_4 = [("N1", "50000", "0.04"), ("N2", "50000", "0.04")]


def write_census(path: Path, people: Sequence[tuple[str, ...]], extra: Sequence[str] = ()) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*REQUIRED_COLUMNS, *extra])
        for employee_id, pay, rate, *more in people:
            writer.writerow([employee_id, "1980-01-01", "2020-01-01", "", 1, pay, rate, *more])


def simulate(
    root: Path,
    people: Sequence[tuple[str, ...]],
    *,
    extra: Sequence[str] = (),
    years: tuple[int, int] = (2025, 2025),
    **sections: dict[str, object],
) -> Path:
    workspace = Workspace.open(root)
    write_census(workspace.config.census_path, people, extra)
    merged = {name: dict(values) for name, values in FIXED.items()}
    for name, values in sections.items():
        merged.setdefault(name, {}).update(values)
    workspace = edit_config_sections(workspace, **merged)
    WorkspaceSession(workspace).simulate(*years)
    return workspace.root


def query(root: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with duckdb.connect(str(root / "simulation.duckdb"), read_only=True) as conn:
        cursor = conn.execute(sql, params or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def compliance_row(root: Path, test: str, year: int = 2025) -> dict[str, Any]:
    rows = query(root, "select * from main.fct_compliance where test = ? and simulation_year = ?", [test, year])
    assert len(rows) == 1, rows
    return rows[0]


def employee(root: Path, employee_id: str, year: int = 2025) -> dict[str, Any]:
    rows = query(
        root,
        "select * from main.fct_compliance_employees where employee_id = ? and simulation_year = ?",
        [employee_id, year],
    )
    assert len(rows) == 1, rows
    return rows[0]


# -- ADP at the limit, and one basis point over ---------------------------------------------------


@pytest.mark.dbt
def test_adp_exactly_at_the_125_limit_passes_with_no_margin(tmp_path: Path) -> None:
    # NHCE ADP 10%: limit max(12.5%, min(20%, 12%)) = 12.5%; HCEs 12% and 13% average 12.5%
    root = simulate(tmp_path / "ws", [("H1", "180000", "0.12"), ("H2", "165000", "0.13"), *NHCE_AT_10])
    adp = compliance_row(root, "adp")
    assert (adp["hce_count"], adp["nhce_count"]) == (2, 2)
    assert adp["hce_value"] == pytest.approx(0.125, abs=1e-12)
    assert adp["nhce_value"] == pytest.approx(0.10, abs=1e-12)
    assert adp["limit_value"] == pytest.approx(0.125, abs=1e-12)
    assert adp["margin"] == pytest.approx(0.0, abs=1e-12)
    assert adp["passed"]
    assert not adp["fails"]
    assert adp["excess_amount"] == adp["refund_amount"] == adp["corrective_contribution"] == 0
    metrics = query(root, "select adp_fail, adp_margin from main.fct_year_metrics")[0]
    assert not metrics["adp_fail"]
    assert metrics["adp_margin"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.dbt
def test_adp_a_basis_point_over_the_125_limit_fails_and_is_corrected_by_hand(tmp_path: Path) -> None:
    # H2 at 13.02% (21,483.00 of 165,000): HCE ADP 12.51%, one basis point over 12.5%
    root = simulate(tmp_path / "ws", [("H1", "180000", "0.12"), ("H2", "165000", "0.1302"), *NHCE_AT_10])
    adp = compliance_row(root, "adp")
    assert adp["hce_value"] == pytest.approx(0.1251, abs=1e-12)
    assert adp["margin"] == pytest.approx(-0.0001, abs=1e-12)
    assert adp["fails"]
    # Leveling: the HCE ratios must sum to 2 x 12.5% = 0.25; bringing the top one (13.02%)
    # down to L with 12% left: L + 0.12 = 0.25, L = 13%. Excess: 0.02% of 165,000 = 33.00.
    assert employee(root, "H2")["adp_excess"] == Decimal("33.00")
    assert employee(root, "H1")["adp_excess"] == 0
    # Refund by highest dollar amount: H1's 21,600.00 is above H2's 21,483.00, and taking
    # 33.00 from it leaves 21,567.00, still above: H1 gets the refund, H2 nothing.
    assert employee(root, "H1")["adp_refund"] == Decimal("33.00")
    assert employee(root, "H2")["adp_refund"] == 0
    assert adp["excess_amount"] == adp["refund_amount"] == Decimal("33.00")
    # QNEC: the NHCE ADP that lets 12.51% pass is 12.51% / 1.25 = 10.008%: 0.008% of the
    # NHCEs' 100,000 of pay = 8.00.
    assert adp["corrective_contribution"] == Decimal("8.00")
    metrics = query(root, "select adp_fail, adp_excess, adp_qnec_cost from main.fct_year_metrics")[0]
    assert metrics["adp_fail"]
    assert metrics["adp_excess"] == Decimal("33.00")
    assert metrics["adp_qnec_cost"] == Decimal("8.00")


@pytest.mark.dbt
def test_adp_at_the_2pp_limit_passes_and_a_basis_point_over_fails(tmp_path: Path) -> None:
    # NHCE ADP 4%: limit max(5%, min(8%, 6%)) = 6% (the 2 percentage point limit)
    at = simulate(tmp_path / "at", [("H1", "180000", "0.06"), ("H2", "165000", "0.06"), *NHCE_AT_4])
    adp = compliance_row(at, "adp")
    assert adp["limit_value"] == pytest.approx(0.06, abs=1e-12)
    assert adp["hce_value"] == pytest.approx(0.06, abs=1e-12)
    assert adp["passed"]
    assert not adp["fails"]

    # H2 at 6.02% (9,933.00): HCE ADP 6.01%
    over = simulate(tmp_path / "over", [("H1", "180000", "0.06"), ("H2", "165000", "0.0602"), *NHCE_AT_4])
    adp = compliance_row(over, "adp")
    assert adp["margin"] == pytest.approx(-0.0001, abs=1e-12)
    assert adp["fails"]
    # Leveling to a sum of 0.12: L = 0.12 - 0.06 = 6%; excess 0.02% of 165,000 = 33.00,
    # refunded from H1's 10,800.00 (the highest dollar amount; 10,767.00 stays above 9,933.00).
    assert employee(over, "H2")["adp_excess"] == Decimal("33.00")
    assert employee(over, "H1")["adp_refund"] == Decimal("33.00")
    # QNEC: 6.01% passes with an NHCE ADP of 6.01% - 2 pp = 4.01%: 0.01% of 100,000 = 10.00
    assert adp["corrective_contribution"] == Decimal("10.00")


# -- the prior-year method, the top-paid group ---------------------------------------------------


@pytest.mark.dbt
def test_prior_year_method_uses_last_years_nhce_figure(tmp_path: Path) -> None:
    people = [("H1", "180000", "0.12"), ("H2", "165000", "0.13"), *NHCE_AT_10]
    root = simulate(
        tmp_path / "ws",
        people,
        years=(2025, 2026),
        compliance={"testing_method": "prior_year", "prior_year_nhce_percentage": 0.04},
    )
    first, second = compliance_row(root, "adp", 2025), compliance_row(root, "adp", 2026)
    # 2025: the configured 4% stands for 2024's NHCEs: limit 6%, HCE ADP 12.5% fails by 6.5 pp
    assert first["testing_method"] == "prior_year"
    assert first["nhce_basis"] == pytest.approx(0.04, abs=1e-12)
    assert first["limit_value"] == pytest.approx(0.06, abs=1e-12)
    assert first["margin"] == pytest.approx(-0.065, abs=1e-12)
    assert first["fails"]
    # 2026: last year's NHCE ADP (10%, as 2025 recorded it): limit 12.5%, passes exactly
    assert second["nhce_basis"] == pytest.approx(first["nhce_value"], abs=1e-12) == pytest.approx(0.10)
    assert second["limit_value"] == pytest.approx(0.125, abs=1e-12)
    assert second["passed"]
    assert not second["fails"]
    # 2026's HCEs are those paid over 2025's $160,000: both (180,000 and 165,000)
    assert employee(root, "H2", 2026)["is_hce"]


@pytest.mark.dbt
def test_top_paid_group_election_changes_who_is_an_hce(tmp_path: Path) -> None:
    people = [("H1", "180000", "0.12"), ("H2", "165000", "0.13"), *NHCE_AT_10]
    root = simulate(tmp_path / "ws", people, compliance={"top_paid_group": True})
    # 4 employees paid last year: the top-paid group is round(20% x 4) = 1, so only H1
    assert employee(root, "H1")["is_hce"]
    assert not employee(root, "H2")["is_hce"]
    adp = compliance_row(root, "adp")
    # HCE ADP 12%; NHCE ADP (13% + 10% + 10%) / 3 = 11%: limit max(13.75%, min(22%, 13%)) = 13.75%
    assert adp["hce_count"] == 1
    assert adp["nhce_count"] == 3
    assert adp["nhce_value"] == pytest.approx(0.11, abs=1e-12)
    assert adp["limit_value"] == pytest.approx(0.1375, abs=1e-12)
    assert adp["margin"] == pytest.approx(0.0175, abs=1e-12)


# -- top-heavy ------------------------------------------------------------------------------------

TOP_HEAVY_COLUMNS = ("deferral_balance", "is_officer")


@pytest.mark.dbt
@pytest.mark.parametrize(
    ("key_balance", "other_balance", "top_heavy"),
    [("59990", "40010", False), ("61000", "39000", True)],
    ids=["just-below-60", "top-heavy"],
)
def test_top_heavy_from_the_balances_at_the_determination_date(
    tmp_path: Path, key_balance: str, other_balance: str, top_heavy: bool
) -> None:
    # An officer paid 250,000 in 2024 (over 2024's $220,000) is a key employee; the
    # census balances are those of Dec 31, 2024, the 2025 determination date.
    people = [("OFFICER", "250000", "0.05", key_balance, "true"), ("CLERK", "50000", "0", other_balance, "false")]
    root = simulate(tmp_path / "ws", people, extra=TOP_HEAVY_COLUMNS)
    assert employee(root, "OFFICER")["is_key_employee"]
    assert not employee(root, "CLERK")["is_key_employee"]
    row = compliance_row(root, "top_heavy")
    share = int(key_balance) / (int(key_balance) + int(other_balance))
    assert row["test_value"] == pytest.approx(share, abs=1e-12)
    assert row["margin"] == pytest.approx(0.60 - share, abs=1e-12)
    assert row["fails"] is top_heavy
    # The officer defers 12,500 and gets a 6,250 match: 7.5% of pay, so non-key employees
    # are owed the lesser of 3% and 7.5%: 3% of the clerk's 50,000 = 1,500.00 (no match).
    assert row["corrective_contribution"] == (Decimal("1500.00") if top_heavy else 0)
    metrics = query(root, "select top_heavy, top_heavy_minimum_cost, key_employee_count from main.fct_year_metrics")
    assert metrics[0]["top_heavy"] is top_heavy
    assert metrics[0]["key_employee_count"] == 1


# -- safe harbor, coverage -----------------------------------------------------------------------


@pytest.mark.dbt
def test_a_safe_harbor_design_is_deemed_to_pass_the_adp_test_it_would_fail(tmp_path: Path) -> None:
    people = [("H1", "180000", "0.12"), ("H2", "165000", "0.1302"), *NHCE_AT_10]
    root = simulate(
        tmp_path / "ws",
        people,
        plan={"match_rate": 0.5, "match_cap": 0.06},
        safe_harbor={"safe_harbor_design": "basic_match"},
    )
    adp, acp = compliance_row(root, "adp"), compliance_row(root, "acp")
    assert not adp["passed"]
    assert adp["deemed_passed"]
    assert not adp["fails"]
    assert acp["deemed_passed"]
    assert adp["corrective_contribution"] == adp["excess_amount"] == 0


@pytest.mark.dbt
def test_coverage_when_everyone_benefits(tmp_path: Path) -> None:
    people = [("H1", "180000", "0.05"), ("N1", "50000", "0.05"), ("N2", "50000", "0.05")]
    root = simulate(tmp_path / "ws", people)
    for test in ("coverage_deferrals", "coverage_employer"):
        row = compliance_row(root, test)
        # everyone benefits: each group's share is 100%, the ratio 1.0, 30 pp above 70%
        assert row["hce_value"] == pytest.approx(1.0)
        assert row["nhce_value"] == pytest.approx(1.0)
        assert row["margin"] == pytest.approx(0.30, abs=1e-12)
        assert row["passed"]


# -- cross-check on a simulated year (acceptance 2) ------------------------------------------------


@pytest.mark.dbt
def test_adp_and_acp_recomputed_from_the_snapshot_with_independent_sql(bundled_2025: Path) -> None:
    independent = """
        with people as (
            select random_seed, prior_year_wages > 155000 as hce, is_eligible, is_employer_eligible,
                   round(base_deferral / plan_compensation, 4) as adr,
                   round(match_contribution / employer_plan_compensation, 4) as acr
            from main.fct_workforce_snapshot where simulation_year = 2025 and scenario_id = 'baseline'
        )
        select avg(coalesce(adr, 0)) filter (where hce and is_eligible) as adp_hce,
               avg(coalesce(adr, 0)) filter (where not hce and is_eligible) as adp_nhce,
               avg(coalesce(acr, 0)) filter (where hce and is_employer_eligible) as acp_hce,
               avg(coalesce(acr, 0)) filter (where not hce and is_employer_eligible) as acp_nhce
        from people
    """
    expected = query(bundled_2025, independent)[0]
    for test in ("adp", "acp"):
        row = compliance_row(bundled_2025, test)
        assert row["hce_value"] == pytest.approx(expected[f"{test}_hce"], abs=1e-9)
        assert row["nhce_value"] == pytest.approx(expected[f"{test}_nhce"], abs=1e-9)
        nhce = expected[f"{test}_nhce"]
        limit = max(1.25 * nhce, min(2 * nhce, nhce + 0.02))
        assert row["limit_value"] == pytest.approx(limit, abs=1e-9)
        assert row["margin"] == pytest.approx(limit - expected[f"{test}_hce"], abs=1e-9)


@pytest.fixture(scope="module")
def bundled_2025(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled census simulated for 2025 under the default config."""
    workspace = Workspace.open(tmp_path_factory.mktemp("bundled") / "ws")
    WorkspaceSession(workspace).simulate(2025, 2025)
    return workspace.root


# -- the probability of failing on an ensemble (acceptance 3) -------------------------------------

ENSEMBLE_SEEDS = 30
# The 2024 HCE threshold (irs_contribution_limits), which 2025's look-back at the census pay uses.
HCE_THRESHOLD_2024 = Decimal("155000")


@pytest.mark.dbt
def test_an_ensemble_of_a_plan_failing_about_half_the_time_reports_the_failing_share_per_year(
    tmp_path: Path,
) -> None:
    # A 300-employee generated census whose 30 HCEs defer 2.7 pp more than generated, a 25%
    # termination rate, and the prior-year method: 2025's limit is 6% (the configured
    # prior-year NHCE ADP) + 2 pp = 8%, against an HCE ADP whose median over the seeds is
    # 8.01%; 2026's limit is 2025's NHCE ADP (about 6.3%) + 2 pp, about 8.3%, against an HCE
    # ADP with a median of 8.23% (2025's pay decides 2026's HCEs). Tuned once, from the
    # seeds' margins: 16 of the 30 seeds fail in 2025, 12 in 2026.
    workspace = Workspace.open(tmp_path / "ws")
    generate_census(300, 42, workspace.config.census_path)
    raise_hce_deferrals(workspace.config.census_path, Decimal("0.027"))
    workspace = edit_config_sections(
        workspace,
        workforce={"termination_rate": 0.25},
        compliance={"testing_method": "prior_year", "prior_year_nhce_percentage": 0.06},
    )
    result = WorkspaceSession(workspace).ensemble(2025, 2026, seeds=ENSEMBLE_SEEDS)

    shares = result.failing_shares()["adp"]
    assert list(shares.index) == [2025, 2026]
    assert all(0.20 <= share <= 0.80 for share in shares), shares
    # Independently, from the stored per-seed rows: each seed's flag is its margin below zero,
    # and the share of a year is the mean of its seeds' flags.
    stored = query(
        workspace.root,
        """
        select seed, year,
               max(value) filter (where metric = 'adp_fail') as fails,
               max(value) filter (where metric = 'adp_margin') as margin
        from main.ensemble_year_metrics where scenario = 'baseline'
        group by seed, year
        """,
    )
    for year in (2025, 2026):
        flags = [row["fails"] for row in stored if row["year"] == year]
        assert len(flags) == ENSEMBLE_SEEDS
        assert all((row["fails"] == 1) == (row["margin"] < 0) for row in stored if row["year"] == year)
        assert shares[year] == pytest.approx(sum(flags) / ENSEMBLE_SEEDS, abs=1e-12)


def raise_hce_deferrals(census: Path, points: Decimal) -> None:
    """Add `points` to the deferral rate of everyone paid over the 2024 HCE threshold."""
    with census.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if Decimal(row["annual_compensation"]) > HCE_THRESHOLD_2024:
            row["deferral_rate"] = str(Decimal(row["deferral_rate"]) + points)
    with census.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# -- config and faces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"testing_method": "last_year"}, "compliance.testing_method"),
        ({"prior_year_nhce_percentage": 0.5}, "compliance.prior_year_nhce_percentage"),
    ],
)
def test_bad_compliance_settings_are_refused_with_the_key_before_anything_is_written(
    tmp_path: Path, values: dict[str, object], key: str
) -> None:
    workspace = Workspace.open(tmp_path / "ws")
    with pytest.raises(ConfigurationError) as raised:
        edit_config_sections(workspace, compliance=values)
    assert key in str(raised.value)
    assert raised.value.remediation
    assert not workspace.config.database_path.exists()


@pytest.mark.dbt
def test_the_compliance_command_prints_a_table_per_year_and_exits_0_when_a_test_fails(tmp_path: Path) -> None:
    root = simulate(tmp_path / "ws", [("H1", "180000", "0.12"), ("H2", "165000", "0.1302"), *NHCE_AT_10])
    done = subprocess.run(
        [sys.executable, "-m", "planalign_orchestrator.cli", "compliance", "2025", "--workspace", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ADP (401(k)(3))" in done.stdout
    assert "FAIL" in done.stdout
    assert "-0.01 pp" in done.stdout
    assert "refund $33.00" in done.stdout
    assert "QNEC of $8.00" in done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "planalign_orchestrator.cli", "compliance", "2027", "--workspace", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert "2027 not simulated" in missing.stderr
