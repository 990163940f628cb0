"""The simulation config: loaded from YAML, validated before anything is written.

Validation is strict on purpose: a typo in a YAML key would otherwise silently fall
back to a default and produce a plausible but wrong simulation. Every refusal is a
``ConfigurationError`` naming the dotted key, the bad value and the fix.
"""

from __future__ import annotations

import difflib
import itertools
import os
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from planalign_orchestrator.exceptions import ConfigurationError, SimulationError

CONFIG_FILE_NAME = "simulation_config.yaml"
BASELINE_SCENARIO = "baseline"
# Simulation years the engine accepts, in the config and on the command line alike.
MIN_YEAR, MAX_YEAR = 2000, 2100
# A config is a few hundred bytes; anything near these limits is not one (or is a YAML
# alias bomb, which expands a few hundred bytes into billions of values).
MAX_CONFIG_BYTES = 1_000_000
MAX_YAML_VALUES = 10_000
_MAX_SHOWN = 200


def check_year_bounds(first: int, last: int, *, example_start: int = 2025) -> None:
    """SimulationError for a year outside MIN_YEAR..MAX_YEAR, the range every face and the config accept."""
    outside = [year for year in (first, last) if not MIN_YEAR <= year <= MAX_YEAR]
    if outside:
        raise SimulationError(
            f"Year {outside[0]} is outside the years a simulation accepts ({MIN_YEAR}-{MAX_YEAR}).",
            remediation=f"Simulate years between {MIN_YEAR} and {MAX_YEAR}, e.g. "
            f"`planalign simulate {example_start}-{min(example_start + 2, MAX_YEAR)}`.",
        )


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, validate_assignment=True)


class SimulationSettings(_Section):
    start_year: int = Field(2025, ge=MIN_YEAR, le=MAX_YEAR)
    end_year: int = Field(2027, ge=MIN_YEAR, le=MAX_YEAR)
    random_seed: int = Field(42, ge=0)
    target_growth_rate: float = Field(0.03, gt=-1.0, lt=1.0)

    @field_validator("end_year")
    @classmethod
    def _not_before_start(cls, end_year: int, info: ValidationInfo) -> int:
        start_year = info.data.get("start_year")
        if start_year is not None and end_year < start_year:
            raise ValueError(f"end_year must not be before start_year {start_year}")
        return end_year


class WorkforceSettings(_Section):
    termination_rate: float = Field(0.12, ge=0.0, lt=1.0)
    new_hire_termination_rate: float = Field(0.25, ge=0.0, lt=1.0)
    allow_layoffs: bool = True
    max_working_age: int = Field(75, ge=50, le=100)
    # Part-time hires: their scheduled hours decide the 1,000-hour and long-term
    # part-time rules; everyone else is credited 190 hours a month employed.
    part_time_hire_rate: float = Field(0.0, ge=0.0, le=1.0)
    part_time_annual_hours: int = Field(800, ge=1, le=2080, description="part-time: fewer than 40 hours a week")


class CompensationSettings(_Section):
    """Overrides of the comp_levers seed; None keeps the per-level seed values."""

    cola_rate: float | None = Field(None, ge=0.0, lt=1.0)
    merit_rate: float | None = Field(None, ge=0.0, lt=1.0)
    promotion_probability: float | None = Field(None, ge=0.0, lt=1.0)
    promotion_raise: float | None = Field(None, ge=0.0, lt=1.0)
    structure_increase_rate: float | None = Field(None, ge=0.0, lt=1.0)
    # The config_job_levels salary ranges are those in force before 1 January of this year
    # (they move by the structure increase from it, or back before it); None = start_year.
    # A backtest from a later (or earlier) census keeps the workspace's anchoring with it.
    salary_range_base_year: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)


class MatchTier(_Section):
    """One tier of the match: `rate` x the deferral between the previous tier's up_to and this one's."""

    rate: float
    up_to: float


class PlanSettings(_Section):
    auto_enrollment: bool = True
    default_deferral_rate: float = Field(0.06, ge=0.0, lt=1.0)
    opt_out_rate: float = Field(0.10, ge=0.0, lt=1.0)
    match_rate: float = Field(0.50, ge=0.0, le=1.0)
    match_cap: float = Field(0.06, ge=0.0, lt=1.0)
    match_tiers: list[MatchTier] | None = None
    auto_escalation: bool = True
    escalation_rate: float = Field(0.01, gt=0.0, le=0.05)
    escalation_cap: float = Field(0.10, gt=0.0, le=0.15)
    escalation_opt_out_rate: float = Field(0.10, ge=0.0, lt=1.0)
    reenrollment_sweep: bool = False
    irs_indexing_rate: float = Field(0.025, ge=0.0, lt=0.2)

    @field_validator("match_tiers")
    @classmethod
    def _tiers_rise(cls, tiers: list[MatchTier] | None) -> list[MatchTier] | None:
        return None if tiers is None else _checked_tiers(tiers)

    @model_validator(mode="after")
    def _one_match_formula(self) -> PlanSettings:
        """match_tiers replaces match_rate/match_cap; a non-default single tier beside it is a contradiction.

        Defaults beside tiers are fine: a dumped config (a scenario's base) carries them.
        """
        if self.match_tiers is None:
            return self
        fields = type(self).model_fields
        contradicting = sorted(
            name for name in ("match_rate", "match_cap") if getattr(self, name) != fields[name].default
        )
        if contradicting:
            raise ValueError(
                f"set either match_tiers or match_rate/match_cap, not both (remove {', '.join(contradicting)})"
            )
        return self


# The longest file name most file systems accept, and what the database's own name may take
# of it: its write-ahead log and the copies kept aside add suffixes such as
# ".wal.refused-20251127T044712Z-12" (33 bytes).
NAME_MAX_BYTES = 255
MAX_DATABASE_NAME_BYTES = NAME_MAX_BYTES - 40


# -- fitted assumption tables (planalign fit) --------------------------------------------
# Bounds of a value in an assumption table: multipliers scale a base rate that the model
# calibrates every year, so only their ratios matter; probabilities are per year.
MAX_MULTIPLIER = 20.0
MAX_TABLE_VALUES = 200


def _checked_table(values: list[float] | None, upper: float, what: str) -> list[float] | None:
    """A table-valued assumption: non-empty, every value finite and within [0, upper]."""
    if values is None:
        return None
    if not values:
        raise ValueError(f"give one {what} per row of its seed, or null to use the seed")
    if len(values) > MAX_TABLE_VALUES:
        raise ValueError(f"at most {MAX_TABLE_VALUES} values (got {len(values)})")
    for position, value in enumerate(values, start=1):
        if not (value == value and 0.0 <= value <= upper):  # value == value: not NaN
            raise ValueError(f"value {position} must be a {what} between 0 and {upper:g} (got {value})")
    return [float(value) for value in values]


class AssumptionTables(_Section):
    """Assumptions that are tables, one value per row of the seed they replace; null = use the seed.

    `planalign fit` writes them into a fitted scenario (a scenario cannot replace a
    seed, which every scenario of a workspace shares). Each list is aligned with its
    seed's rows in id order, and its length is checked against the seed when the
    config or scenario is opened (planalign_orchestrator.assumption_tables):
      tenure_termination_multipliers  config_tenure_bands.termination_multiplier, by band_id
      age_termination_multipliers     config_age_bands.termination_multiplier, by band_id
      level_termination_factors       config_job_levels.termination_factor, by level_id
      retirement_rates                config_retirement_rates.retirement_rate, by age
      promotion_probabilities         comp_levers.promotion_probability of every plan year, by level_id
    """

    tenure_termination_multipliers: list[float] | None = None
    age_termination_multipliers: list[float] | None = None
    level_termination_factors: list[float] | None = None
    retirement_rates: list[float] | None = None
    promotion_probabilities: list[float] | None = None

    @field_validator("tenure_termination_multipliers", "age_termination_multipliers", "level_termination_factors")
    @classmethod
    def _multipliers(cls, values: list[float] | None) -> list[float] | None:
        return _checked_table(values, MAX_MULTIPLIER, "multiplier")

    @field_validator("retirement_rates", "promotion_probabilities")
    @classmethod
    def _probabilities(cls, values: list[float] | None) -> list[float] | None:
        return _checked_table(values, 1.0, "probability")


ServiceRequirement = Literal["none", "elapsed_months", "one_year"]
EntryDates = Literal["immediate", "monthly", "quarterly", "semiannual"]
EmployerServiceRequirement = Literal["same", "one_year", "two_years"]
VestingSchedule = Literal["immediate", "cliff", "graded", "custom"]
ForfeitureUse = Literal["employer_contributions", "expenses", "reallocation"]
TestingMethod = Literal["current_year", "prior_year"]
# Vested share after 2..6 years of service on the slowest graded schedule IRC 411(a)(2)(B) allows.
STATUTORY_GRADED = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
STATUTORY_CLIFF_YEARS = 3


class EligibilitySettings(_Section):
    """Who may defer and receive employer money, and from when (IRC 410(a); SECURE 2.0 s.125).

    The defaults (no age or service requirement, immediate entry) make everyone eligible
    from the hire date, as the simulation was before these rules existed.
    """

    minimum_age: int = Field(0, ge=0, le=21, description="IRC 410(a)(1)(A) allows at most age 21")
    service_requirement: ServiceRequirement = "none"
    service_months: int = Field(
        12, ge=1, le=12, description="IRC 410(a)(1)(A) allows at most one year of service before deferrals"
    )
    entry_dates: EntryDates = "immediate"
    long_term_part_time: bool = True
    employer_service_requirement: EmployerServiceRequirement = "same"


class VestingSettings(_Section):
    """How employer money vests (IRC 411(a)); deferrals, Roth and safe harbor money are always 100% vested."""

    schedule: VestingSchedule = "immediate"
    schedule_years: int = Field(
        6, ge=1, le=6, description="IRC 411(a)(2): a 3-year cliff or a 6-year graded schedule at most"
    )
    schedule_percentages: list[float] | None = None
    count_service_before_eligibility: bool = True
    # The match vests at once, as safe harbor money does. A safe harbor match design
    # (safe_harbor.safe_harbor_design) implies it; whether the plan is safe harbor is that key's.
    safe_harbor_match: bool = False

    @field_validator("schedule_percentages")
    @classmethod
    def _percentages_vest_in_time(cls, shares: list[float] | None) -> list[float] | None:
        if shares is None:
            return None
        if not shares:
            raise ValueError("give the vested share after 1, 2, ... years, e.g. [0, 0.2, 0.4, 0.6, 0.8, 1.0]")
        for number, share in enumerate(shares, start=1):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"the share after {number} year(s) must be between 0 and 1 (got {share})")
        rising = all(later >= earlier for earlier, later in itertools.pairwise(shares))
        if not rising or shares[-1] != 1.0:
            raise ValueError("the shares must never decrease and must end at 1.0 (100% vested)")
        if not vests_as_fast_as_the_law_requires(shares):
            raise ValueError(
                "it vests slower than IRC 411(a)(2)(B) allows: 100% after 3 years (cliff), or at least "
                "20%, 40%, 60%, 80%, 100% after 2, 3, 4, 5, 6 years (graded)"
            )
        return shares


def vests_as_fast_as_the_law_requires(shares: list[float]) -> bool:
    """A vesting list (share after 1, 2, ... years) meets the 3-year cliff or the 6-year graded minimum."""

    def share_after(years: int) -> float:
        return shares[min(years, len(shares)) - 1]

    cliff = share_after(STATUTORY_CLIFF_YEARS) >= 1.0
    graded = all(share_after(years) >= STATUTORY_GRADED[years - 1] - 1e-9 for years in range(2, 7))
    return cliff or graded


# -- employer contribution designs (DOMAIN.md "Employer contributions beyond the match") ------
MatchFormula = Literal["tiers", "service_bands", "points_bands"]
MatchPeriod = Literal["plan_year", "pay_period"]
PayFrequency = Literal["weekly", "biweekly", "semimonthly", "monthly"]
CoreFormula = Literal["none", "flat", "age_bands", "service_bands", "points_bands", "integrated"]
SafeHarborDesign = Literal[
    "none",
    "basic_match",
    "enhanced_match",
    "nonelective_3",
    "qaca_basic_match",
    "qaca_enhanced_match",
    "qaca_nonelective_3",
]
# IRC 404(a)(3)(A): the employer deducts profit-sharing contributions up to 25% of pay.
MAX_CORE_RATE = 0.25
# An allocation condition may ask for at most a year of service's hours (IRC 410(a)(3)(A)).
MAX_ALLOCATION_HOURS = 1000
# The safe harbor designs (IRC 401(k)(12), 401(k)(13) for QACA): the match each one pays,
# as tiers of plan.match_tiers, or the non-elective rate of pay.
SAFE_HARBOR_MATCH_TIERS: dict[str, list[dict[str, float]]] = {
    "basic_match": [{"rate": 1.0, "up_to": 0.03}, {"rate": 0.5, "up_to": 0.05}],
    "enhanced_match": [{"rate": 1.0, "up_to": 0.04}],
    "qaca_basic_match": [{"rate": 1.0, "up_to": 0.01}, {"rate": 0.5, "up_to": 0.06}],
    "qaca_enhanced_match": [{"rate": 1.0, "up_to": 0.04}],
}
SAFE_HARBOR_NONELECTIVE_RATE: dict[str, float] = {"nonelective_3": 0.03, "qaca_nonelective_3": 0.03}
# QACA automatic enrollment (IRC 401(k)(13)(C)): a default of 3% to 10% that reaches at least 6%.
QACA_DEFAULT_RANGE = (0.03, 0.10)
QACA_FINAL_DEFAULT = 0.06


def permitted_disparity(integration_level_share: float) -> float:
    """The most the excess rate may exceed the base rate by, before the lesser-of-the-base-rate cap (IRC 401(l)(2)).

    5.7 points at the taxable wage base; an integration level below it lowers the limit
    (Treas. Reg. 1.401(l)-2(d)(4)): above 80% of the wage base 5.4, above 20% 4.3, and
    5.7 again at or below 20% (the $10,000 alternative never binds at today's wage bases).
    """
    if integration_level_share >= 1.0:
        return 0.057
    if integration_level_share > 0.8:
        return 0.054
    if integration_level_share > 0.2:
        return 0.043
    return 0.057


def _checked_bands(bands: list[Any] | None, what: str, example: str) -> list[Any] | None:
    """A band table: its first band from 0, each band starting above the one before (ordered, no overlap)."""
    if bands is None:
        return None
    if not bands:
        raise ValueError(f"give at least one band, e.g. {example}")
    if bands[0].at_least != 0:
        raise ValueError(f"the first band must start at 0 {what} (got at_least: {bands[0].at_least}), e.g. {example}")
    for number, (earlier, later) in enumerate(itertools.pairwise(bands), start=2):
        if later.at_least <= earlier.at_least:
            raise ValueError(
                f"the bands must be in rising order of at_least: band {number} starts at {later.at_least}, "
                f"not above band {number - 1}'s {earlier.at_least}; list them from the lowest, e.g. {example}"
            )
    return bands


def _checked_tiers(tiers: list[MatchTier], where: str = "") -> list[MatchTier]:
    """Match tiers in rising order of up_to, each rate 0-1 (100% of the deferral at most)."""
    if not tiers:
        raise ValueError(
            f"{where}give at least one tier, e.g. [{{rate: 1.0, up_to: 0.03}}, {{rate: 0.5, up_to: 0.05}}]"
        )
    previous = 0.0
    for number, tier in enumerate(tiers, start=1):
        if not 0.0 <= tier.rate <= 1.0:
            raise ValueError(f"{where}tier {number} rate must be between 0 and 1 (got {tier.rate})")
        if not previous < tier.up_to < 1.0:
            raise ValueError(
                f"{where}tier {number} up_to must be above {previous} (the previous tier's) and below 1 "
                f"(got {tier.up_to}): list the tiers in rising order of up_to"
            )
        previous = tier.up_to
    return tiers


class MatchBand(_Section):
    """The match tiers of employees with at least `at_least` years of service (or points: age + service)."""

    at_least: int = Field(ge=0, le=200)
    tiers: list[MatchTier]


class MatchSettings(_Section):
    """Which match formula applies to whom, how often it is computed, and who must be there to get it.

    The formula's tiers are plan.match_rate/match_cap or plan.match_tiers (today's match,
    the default) or, by band of service or points, match_bands. DOMAIN.md: "Employer
    contributions beyond the match" and "Common plan designs".
    """

    match_formula: MatchFormula = "tiers"
    match_bands: list[MatchBand] | None = None
    match_max_amount: float | None = Field(
        None, ge=0.0, le=1_000_000.0, description="a yearly cap in dollars; null: no cap beyond 415(c)"
    )
    match_period: MatchPeriod = "plan_year"
    pay_frequency: PayFrequency = "biweekly"
    true_up: bool = False
    match_last_day: bool = False
    match_min_hours: int = Field(
        0, ge=0, le=MAX_ALLOCATION_HOURS, description="an allocation condition may ask for at most 1,000 hours"
    )

    @field_validator("match_bands")
    @classmethod
    def _bands_rise(cls, bands: list[MatchBand] | None) -> list[MatchBand] | None:
        example = "[{at_least: 0, tiers: [{rate: 0.5, up_to: 0.06}]}, {at_least: 5, tiers: [{rate: 1.0, up_to: 0.06}]}]"
        checked = _checked_bands(bands, "years (or points)", example)
        for number, band in enumerate(checked or [], start=1):
            _checked_tiers(band.tiers, where=f"band {number}: ")
        return checked


class CoreBand(_Section):
    """The core (non-elective) rate of pay for employees with at least `at_least` years of age, service or points."""

    at_least: int = Field(ge=0, le=200)
    rate: float = Field(ge=0.0, le=MAX_CORE_RATE)


class CoreSettings(_Section):
    """The non-elective (core) contribution: a share of pay whether or not the employee defers.

    DOMAIN.md "Employer contributions beyond the match": flat, weighted by age, service
    or points (age + service) in bands, or integrated with Social Security (IRC 401(l)).
    """

    core_formula: CoreFormula = "none"
    core_rate: float = Field(0.0, ge=0.0, le=MAX_CORE_RATE, description="IRC 404(a)(3): at most 25% of pay")
    core_excess_rate: float = Field(0.0, ge=0.0, le=MAX_CORE_RATE, description="IRC 404(a)(3): at most 25% of pay")
    integration_level_share: float = Field(
        1.0, gt=0.0, le=1.0, description="a share of the year's taxable wage base (IRC 401(l)(5)(A))"
    )
    core_bands: list[CoreBand] | None = None
    core_last_day: bool = False
    core_min_hours: int = Field(
        0, ge=0, le=MAX_ALLOCATION_HOURS, description="an allocation condition may ask for at most 1,000 hours"
    )

    @field_validator("core_bands")
    @classmethod
    def _bands_rise(cls, bands: list[CoreBand] | None) -> list[CoreBand] | None:
        return _checked_bands(
            bands,
            "years (or points)",
            "[{at_least: 0, rate: 0.02}, {at_least: 40, rate: 0.04}, {at_least: 50, rate: 0.06}]",
        )


class SafeHarborSettings(_Section):
    """A safe harbor design by name (IRC 401(k)(12); QACA: 401(k)(13)); `none` is a tested plan.

    A design sets the contribution it names (the match tiers or the 3% non-elective) and
    marks the plan safe harbor; its money is 100% vested, except under a QACA design,
    which may vest it on a cliff of up to two years (qaca_vesting_years).
    """

    safe_harbor_design: SafeHarborDesign = "none"
    qaca_vesting_years: int = Field(2, ge=0, le=2, description="IRC 401(k)(13)(D)(iii): a cliff of at most 2 years")


class BalanceSettings(_Section):
    """Account balances: investment return, cash-outs and distributions of terminated participants."""

    # A long-run nominal return of a balanced portfolio, the assumption projections commonly state.
    return_rate: float = Field(0.06, ge=-0.5, le=0.5)
    # Standard deviation of a year's return; each seed of an ensemble draws its own yearly return.
    return_volatility: float = Field(0.0, ge=0.0, le=0.5)
    cash_out_limit: float = Field(7000.0, ge=0.0, le=7000.0, description="SECURE 2.0 s.304: at most $7,000")
    # Share of terminated-vested participants who take their whole balance in a year.
    distribution_rate: float = Field(0.10, ge=0.0, le=1.0)


class ForfeitureSettings(_Section):
    """What forfeitures pay for, in the plan year after they arise (used within 12 months)."""

    used_for: ForfeitureUse = "employer_contributions"


class ComplianceSettings(_Section):
    """How the nondiscrimination tests are run (DOMAIN.md "Nondiscrimination testing").

    The defaults test each year against its own NHCEs and find HCEs by pay alone (and
    the census's 5% owners), which changes no other result: the tests only read the plan.
    """

    testing_method: TestingMethod = Field(
        "current_year",
        description="IRC 401(k)(3)(A), 401(m)(2)(A): the NHCE averages of this year (current_year) "
        "or of the year before (prior_year)",
    )
    prior_year_nhce_percentage: float = Field(
        0.03,
        ge=0.0,
        le=0.25,
        description="prior_year method: the NHCE ADP and ACP of the year before start_year "
        "(IRC 401(k)(3)(E) deems 3% for a plan's first year); above 25% no plan's NHCEs average",
    )
    top_paid_group: bool = Field(
        False,
        description="IRC 414(q)(3): only the top 20% by pay can be HCEs by pay (5% owners always are)",
    )


class PathSettings(_Section):
    """Paths are relative to the folder holding the config file."""

    census: str = "census.csv"
    database: str = "simulation.duckdb"

    @field_validator("database")
    @classmethod
    def _name_dbt_duckdb_can_quote(cls, database: str) -> str:
        quotes = sorted({char for char in Path(database).stem if char in "'\""})
        if quotes:
            raise ValueError(
                f"the file name must not contain {' or '.join(quotes)}: dbt-duckdb uses the name "
                "(without extension) as the database's catalog name and cannot quote it in SQL; "
                "rename it, e.g. simulation.duckdb (the folder may contain any character)"
            )
        length = len(os.fsencode(Path(database).name))
        if length > MAX_DATABASE_NAME_BYTES:
            raise ValueError(
                f"the file name is {length} bytes long, and at most {MAX_DATABASE_NAME_BYTES} fit: file systems "
                f"allow {NAME_MAX_BYTES} bytes per name, and files kept beside the database add up to "
                f"{NAME_MAX_BYTES - MAX_DATABASE_NAME_BYTES} (e.g. <name>.wal.refused-<UTC timestamp>); "
                "use a shorter name, e.g. simulation.duckdb"
            )
        return database


class SimulationConfig(_Section):
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)
    workforce: WorkforceSettings = Field(default_factory=WorkforceSettings)
    compensation: CompensationSettings = Field(default_factory=CompensationSettings)
    plan: PlanSettings = Field(default_factory=PlanSettings)
    eligibility: EligibilitySettings = Field(default_factory=EligibilitySettings)
    vesting: VestingSettings = Field(default_factory=VestingSettings)
    balances: BalanceSettings = Field(default_factory=BalanceSettings)
    forfeitures: ForfeitureSettings = Field(default_factory=ForfeitureSettings)
    match: MatchSettings = Field(default_factory=MatchSettings)
    core: CoreSettings = Field(default_factory=CoreSettings)
    safe_harbor: SafeHarborSettings = Field(default_factory=SafeHarborSettings)
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)
    paths: PathSettings = Field(default_factory=PathSettings)
    assumptions: AssumptionTables = Field(default_factory=AssumptionTables)
    workspace_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    # The scenario this config is: the workspace's own config is the baseline; a named
    # scenario is it plus overrides (planalign_orchestrator.scenarios). Not a YAML key.
    scenario: str = Field(BASELINE_SCENARIO, exclude=True)

    @model_validator(mode="after")
    def _one_promotion_source(self) -> SimulationConfig:
        """compensation.promotion_probability (one rate) and assumptions.promotion_probabilities (per level) clash."""
        if self.compensation.promotion_probability is not None and self.assumptions.promotion_probabilities:
            raise ValueError(
                "set either compensation.promotion_probability (every level) or "
                "assumptions.promotion_probabilities (per level), not both"
            )
        return self

    @property
    def census_path(self) -> Path:
        return (self.workspace_dir / self.paths.census).resolve()

    @property
    def database_path(self) -> Path:
        return (self.workspace_dir / self.paths.database).resolve()

    def dbt_vars(self, simulation_year: int | None = None) -> dict[str, Any]:
        """The dbt vars for one invocation; passed at run time so the parse is reused.

        Paths are not vars (dbt renders text vars as Jinja): the census path reaches dbt
        through DbtRunner(census_path=...).
        """
        s, w, c, p = self.simulation, self.workforce, self.compensation, self.plan
        e, v, b = self.eligibility, self.vesting, self.balances
        m, k, h = self.match, self.core, self.safe_harbor
        design = h.safe_harbor_design
        # A safe harbor design is its contribution: the match tiers or the 3% non-elective it names.
        match_tiers = SAFE_HARBOR_MATCH_TIERS.get(design) or (
            None if p.match_tiers is None else [t.model_dump() for t in p.match_tiers]
        )
        nonelective = SAFE_HARBOR_NONELECTIVE_RATE.get(design)
        return {
            "scenario_id": self.scenario,
            "start_year": s.start_year,
            "simulation_year": simulation_year if simulation_year is not None else s.start_year,
            "random_seed": s.random_seed,
            "target_growth_rate": s.target_growth_rate,
            "termination_rate": w.termination_rate,
            "new_hire_termination_rate": w.new_hire_termination_rate,
            "allow_layoffs": w.allow_layoffs,
            "max_working_age": w.max_working_age,
            "part_time_hire_rate": w.part_time_hire_rate,
            "part_time_annual_hours": w.part_time_annual_hours,
            "cola_rate": c.cola_rate,
            "merit_rate": c.merit_rate,
            "promotion_probability": c.promotion_probability,
            "promotion_raise": c.promotion_raise,
            "structure_increase_rate": c.structure_increase_rate,
            "salary_range_base_year": c.salary_range_base_year,
            "auto_enrollment": p.auto_enrollment,
            "default_deferral_rate": p.default_deferral_rate,
            "opt_out_rate": p.opt_out_rate,
            "match_rate": p.match_rate,
            "match_cap": p.match_cap,
            "match_tiers": match_tiers,
            "auto_escalation": p.auto_escalation,
            "escalation_rate": p.escalation_rate,
            "escalation_cap": p.escalation_cap,
            "escalation_opt_out_rate": p.escalation_opt_out_rate,
            "reenrollment_sweep": p.reenrollment_sweep,
            "irs_indexing_rate": p.irs_indexing_rate,
            "minimum_age": e.minimum_age,
            "service_requirement": e.service_requirement,
            "service_months": e.service_months,
            "entry_dates": e.entry_dates,
            "long_term_part_time": e.long_term_part_time,
            "employer_service_requirement": e.employer_service_requirement,
            "schedule": v.schedule,
            "schedule_years": v.schedule_years,
            "schedule_percentages": v.schedule_percentages,
            "count_service_before_eligibility": v.count_service_before_eligibility,
            "safe_harbor_match": v.safe_harbor_match,
            "return_rate": b.return_rate,
            "return_volatility": b.return_volatility,
            "cash_out_limit": b.cash_out_limit,
            "distribution_rate": b.distribution_rate,
            "used_for": self.forfeitures.used_for,
            "testing_method": self.compliance.testing_method,
            "prior_year_nhce_percentage": self.compliance.prior_year_nhce_percentage,
            "top_paid_group": self.compliance.top_paid_group,
            "match_formula": m.match_formula,
            "match_bands": None if m.match_bands is None else [band.model_dump() for band in m.match_bands],
            "match_max_amount": m.match_max_amount,
            "match_period": m.match_period,
            "pay_frequency": m.pay_frequency,
            "true_up": m.true_up,
            "match_last_day": m.match_last_day,
            "match_min_hours": m.match_min_hours,
            "core_formula": "flat" if nonelective is not None else k.core_formula,
            "core_rate": nonelective if nonelective is not None else k.core_rate,
            "core_excess_rate": k.core_excess_rate,
            "integration_level_share": k.integration_level_share,
            "core_bands": None if k.core_bands is None else [band.model_dump() for band in k.core_bands],
            "core_last_day": k.core_last_day,
            "core_min_hours": k.core_min_hours,
            "safe_harbor_design": design,
            "qaca_vesting_years": h.qaca_vesting_years,
            # table-valued assumptions (null = the seed's column), read by int_yearly_experienced_changes
            **self.assumptions.model_dump(),
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def default_config_yaml() -> str:
    """The commented config written into a new workspace."""
    return """\
# PlanAlign simulation config. Paths are relative to this file's folder.
simulation:
  start_year: 2025
  end_year: 2027
  random_seed: 42            # same config + seed => identical results
  target_growth_rate: 0.03   # active headcount growth per year
workforce:
  # Experienced employees leaving per year, retirements included. Each person's chance
  # is a base rate x tenure, age and level multipliers (seeds config_tenure_bands,
  # config_age_bands, config_job_levels), calibrated to this rate; retirement follows
  # the config_retirement_rates seed by age.
  termination_rate: 0.12
  # Share of a full-year hire cohort leaving within its first year; a hire made late in
  # the year has only the weeks left to leave.
  new_hire_termination_rate: 0.25
  allow_layoffs: true    # reductions in force when the target is below what attrition leaves;
                         # false = no layoffs, and the missed target is reported
  max_working_age: 75    # sanity bound: nobody stays active past this age
  part_time_hire_rate: 0.0     # share of hires who are part-time...
  part_time_annual_hours: 800  # ...scheduled for this many hours a year (others: 190 a month employed)
compensation:        # null = use the per-level values of the comp_levers seed
  cola_rate: null
  merit_rate: null   # merit budget; spread by compa-ratio (config_compa_ratio_bands seed)
  promotion_probability: null
  promotion_raise: null
  structure_increase_rate: null  # salary ranges move by this a year; null = the year's COLA
  salary_range_base_year: null   # the seed's ranges are those before Jan 1 of this year; null = start_year
plan:
  auto_enrollment: true
  default_deferral_rate: 0.06
  opt_out_rate: 0.10
  # The match on actual deferrals (after the IRS limits): either one tier...
  match_rate: 0.50   # employer matches 50% of deferrals...
  match_cap: 0.06    # ...up to 6% of compensation
  # ...or several (they replace match_rate/match_cap), e.g. the safe harbor basic match:
  # match_tiers: [{rate: 1.0, up_to: 0.03}, {rate: 0.5, up_to: 0.05}]
  auto_escalation: true          # participants' rates rise every Jan 1...
  escalation_rate: 0.01          # ...by this much...
  escalation_cap: 0.10           # ...up to this rate...
  escalation_opt_out_rate: 0.10  # ...except this share, who opt out for good
  reenrollment_sweep: false      # every Jan 1, enrol non-participants at the default rate
                                 # (an opt_out_rate share opts out again)
  irs_indexing_rate: 0.025       # IRS limits after the published years grow by this a year,
                                 # rounded down as the law rounds them
eligibility:         # who may defer and get employer money, from when (IRC 410(a))
  minimum_age: 0                 # 0-21
  service_requirement: none      # none | elapsed_months | one_year (a 12-month period with 1,000 hours)
  service_months: 12             # with elapsed_months: 1-12 months from the hire date
  entry_dates: immediate         # immediate | monthly | quarterly | semiannual (Jan 1 / Jul 1)
  long_term_part_time: true      # 500 hours in two consecutive 12-month periods: may defer (from 2025)
  employer_service_requirement: same  # same | one_year | two_years (two_years needs immediate vesting)
vesting:             # employer money (IRC 411(a)); deferrals, Roth and safe harbor money vest at once
  schedule: immediate            # immediate | cliff | graded | custom
  schedule_years: 6              # cliff: 100% after 1-3 years; graded: 20% a year to 100% after 2-6 years
  schedule_percentages: null     # custom: vested share after 1, 2, ... years, e.g. [0, 0.2, 0.4, 0.6, 0.8, 1.0]
  count_service_before_eligibility: true  # false: plan years before the year of entry do not count
  safe_harbor_match: false       # true: the match is safe harbor money, 100% vested
balances:            # account balances by source
  return_rate: 0.06              # yearly investment return (contributions earn half a year)
  return_volatility: 0.0         # > 0: each seed draws its own yearly return (lognormal, this std dev)
  cash_out_limit: 7000           # leavers' vested balances under this are paid out (SECURE 2.0: $7,000)
  distribution_rate: 0.10        # share of terminated-vested participants taking their balance a year
forfeitures:
  used_for: employer_contributions  # employer_contributions | expenses | reallocation (the next plan year)
match:               # how the match above applies (DOMAIN.md: employer contributions beyond the match)
  match_formula: tiers           # tiers (plan.match_*) | service_bands | points_bands (age + service)
  match_bands: null              # by band: [{at_least: 0, tiers: [{rate: 0.5, up_to: 0.06}]},
                                 #           {at_least: 5, tiers: [{rate: 1.0, up_to: 0.06}]}]
  match_max_amount: null         # a yearly cap in dollars
  match_period: plan_year        # plan_year (on the year's totals) | pay_period (each paycheck)
  pay_frequency: biweekly        # with pay_period: weekly | biweekly | semimonthly | monthly
  true_up: false                 # with pay_period: a year-end true-up restores the match lost
  match_last_day: false          # allocation conditions: employed on Dec 31...
  match_min_hours: 0             # ...and/or this many hours in the year (at most 1,000)
core:                # non-elective (core) contribution, paid whether or not the employee defers
  core_formula: none             # none | flat | age_bands | service_bands | points_bands | integrated
  core_rate: 0.0                 # flat: share of pay; integrated: the base rate
  core_excess_rate: 0.0          # integrated: the rate above the integration level (IRC 401(l))
  integration_level_share: 1.0   # integrated: the level as a share of the year's taxable wage base
  core_bands: null               # bands: [{at_least: 0, rate: 0.02}, {at_least: 40, rate: 0.04}]
  core_last_day: false           # allocation conditions, as for the match
  core_min_hours: 0
safe_harbor:         # IRC 401(k)(12)/(13): the design sets its contribution and marks the plan safe harbor
  safe_harbor_design: none       # none | basic_match | enhanced_match | nonelective_3 |
                                 # qaca_basic_match | qaca_enhanced_match | qaca_nonelective_3
  qaca_vesting_years: 2          # QACA designs: safe harbor money vests on a cliff of 0-2 years
compliance:          # the nondiscrimination tests (ADP, ACP, coverage, top-heavy); they change no other result
  testing_method: current_year   # current_year | prior_year: the NHCE averages of this year or the year before
  prior_year_nhce_percentage: 0.03  # prior_year: the NHCE ADP and ACP of the year before start_year
  top_paid_group: false          # true: only the top 20% by pay can be HCEs by pay (IRC 414(q)(3))
paths:
  census: census.csv
  database: simulation.duckdb
# Assumptions that are tables: one value per row of the seed they replace (in id order),
# null = use the seed. `planalign fit` writes them into fitted scenarios.
assumptions:
  tenure_termination_multipliers: null  # config_tenure_bands, by band_id
  age_termination_multipliers: null     # config_age_bands, by band_id
  level_termination_factors: null       # config_job_levels, by level_id
  retirement_rates: null                # config_retirement_rates, by age
  promotion_probabilities: null         # by level_id; replaces comp_levers' rates
"""


def load_config(path: Path | str, *, require_census: bool = True) -> SimulationConfig:
    """Load and validate a config file; raise ConfigurationError before anything is written."""
    config_path = Path(path).resolve()
    if not config_path.is_file():
        raise ConfigurationError(
            f"config file {config_path} does not exist",
            config_path=config_path,
            remediation="Run `planalign init` in the workspace folder to create a default config.",
        )
    raw = read_yaml_mapping(
        config_path,
        remediation="Start from the default config written by `planalign init`.",
        empty_means_defaults=False,
    )
    return validate_config(
        raw, workspace_dir=config_path.parent, config_path=config_path, require_census=require_census
    )


def read_yaml_mapping(path: Path, *, remediation: str, empty_means_defaults: bool = True) -> dict[str, Any]:
    """A YAML file that must hold a mapping (config or scenario file); ConfigurationError otherwise.

    Refuses what PyYAML would read silently wrong or choke on: a key given twice
    (PyYAML keeps the last value), aliases expanding beyond MAX_YAML_VALUES values (an
    alias bomb), a file over MAX_CONFIG_BYTES, bytes that are not UTF-8. An empty file
    is an empty mapping where that means "nothing set" (a scenario without overrides);
    the config refuses it (`empty_means_defaults=False`) rather than read it as all
    defaults.
    """
    loader = _StrictLoader(_read_text(path))
    try:
        node = loader.get_single_node()
        if node is None:
            if empty_means_defaults:
                return {}
            raise ConfigurationError(
                "the file is empty: it sets none of the sections " + ", ".join(_section_names()),
                config_path=path,
                remediation=(
                    "Write the settings into it; or delete the file and run `planalign init`, which writes "
                    "the commented default config (an empty file is refused rather than read as all defaults)."
                ),
            )
        _refuse_alias_bombs(node, path)
        raw = loader.construct_document(node)
    except _DuplicateKeyError as exc:
        raise ConfigurationError(
            f"a key is given twice: {_shorten(str(exc), 500)}",
            config_path=path,
            remediation="Keep one of the two lines (the value you mean) and delete the other.",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(
            f"not valid YAML: {_shorten(str(exc), 500)}",
            config_path=path,
            remediation="Fix the YAML at the line shown (indentation, colons, quotes).",
        ) from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise ConfigurationError(
            f"expected a mapping, got {type(raw).__name__}", config_path=path, remediation=remediation
        )
    return raw


def config_key(var_name: str) -> str:
    """The dotted config key behind a dbt var (vars are named after their config field)."""
    for section_name, field in SimulationConfig.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel) and var_name in section.model_fields:
            return f"{section_name}.{var_name}"
    return var_name


def known_keys() -> list[str]:
    """Every dotted config key (section.field), in declaration order."""
    keys = []
    for section_name, field in SimulationConfig.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            keys += [f"{section_name}.{name}" for name in section.model_fields]
    return keys


def _read_text(config_path: Path) -> str:
    try:
        size = config_path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigurationError(
                f"the file is {size:,} bytes; a config is a few hundred",
                config_path=config_path,
                remediation="Point the workspace at its simulation_config.yaml, or restore it with `planalign init`.",
            )
        data = config_path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"the file cannot be read: {exc.strerror}",
            config_path=config_path,
            remediation=f"Check the permissions of {config_path}.",
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigurationError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset {exc.start} (line {line})",
            config_path=config_path,
            remediation="Save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), or retype the character.",
        ) from None


class _DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping gives the same key twice (valid YAML, but PyYAML would keep only the last value)."""


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that gives the same key twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: PyYAML's own check below refuses it
            if first is not key_node:
                raise _DuplicateKeyError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found the key {_shorten(repr(key), 80)} twice (first at line {first.start_mark.line + 1}); "
                    "PyYAML would silently keep only the last value",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def _refuse_alias_bombs(root: yaml.Node, config_path: Path | None) -> None:
    """Count the values the document expands to, each alias counted at its full size."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _child_nodes(node)
        if children_done:
            in_progress.discard(key)
            sizes[key] = min(1 + sum(sizes[id(child)] for child in children), MAX_YAML_VALUES + 1)
            continue
        if key in in_progress:
            raise ConfigurationError(
                "a YAML alias refers to itself",
                config_path=config_path,
                remediation="Write the values out instead of using anchors (&) and aliases (*).",
            )
        in_progress.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in in_progress:
                raise ConfigurationError(
                    "a YAML alias refers to itself",
                    config_path=config_path,
                    remediation="Write the values out instead of using anchors (&) and aliases (*).",
                )
            if id(child) not in sizes:
                stack.append((child, False))
    if sizes[id(root)] > MAX_YAML_VALUES:
        raise ConfigurationError(
            f"its YAML aliases expand to more than {MAX_YAML_VALUES:,} values (an alias bomb?)",
            config_path=config_path,
            remediation="Write the values out instead of using anchors (&) and aliases (*).",
        )


def _child_nodes(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _section_names() -> list[str]:
    return [
        name
        for name, field in SimulationConfig.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    ]


def _shorten(text: str, limit: int = _MAX_SHOWN) -> str:
    """Error output stays readable whatever the input: long values are cut, with their length."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def validate_config(
    raw: dict[str, Any],
    *,
    workspace_dir: Path,
    config_path: Path | None = None,
    require_census: bool = True,
) -> SimulationConfig:
    """Validate a raw mapping (as read from YAML) into a SimulationConfig."""
    try:
        config = SimulationConfig.model_validate({**raw, "workspace_dir": workspace_dir})
    except ValidationError as exc:
        raise _first_configuration_error(exc, raw, config_path) from None
    problem = _plan_rule_problem(config, config_path)
    if problem is not None:
        raise problem
    if require_census and not config.census_path.is_file():
        raise ConfigurationError(
            f"census file {config.census_path} does not exist",
            key="paths.census",
            value=config.paths.census,
            config_path=config_path,
            remediation=(
                "Point paths.census at a CSV or Parquet census (relative to the config file), "
                "or generate one with `planalign census generate --employees 5000 --out census.csv`."
            ),
        )
    return config


def _plan_rule_problem(config: SimulationConfig, config_path: Path | None) -> ConfigurationError | None:
    """The first plan rule that spans two keys and breaks the law or contradicts itself, or None.

    Each key's own range is checked by its field; these checks need two keys at once.
    """
    vesting, eligibility = config.vesting, config.eligibility
    problems: list[tuple[str, Any, str, str]] = []
    if vesting.schedule == "cliff" and vesting.schedule_years > STATUTORY_CLIFF_YEARS:
        problems.append(
            (
                "vesting.schedule_years",
                vesting.schedule_years,
                f"a cliff schedule may take at most {STATUTORY_CLIFF_YEARS} years (IRC 411(a)(2)(A))",
                "Set vesting.schedule_years to 1, 2 or 3, or use schedule: graded (2-6 years).",
            )
        )
    if vesting.schedule == "graded" and vesting.schedule_years < 2:
        problems.append(
            (
                "vesting.schedule_years",
                vesting.schedule_years,
                "a graded schedule vests 20% a year from 2 up to 6 years (IRC 411(a)(2)(B))",
                "Set vesting.schedule_years to 2-6, or use schedule: cliff for 1 year.",
            )
        )
    if (vesting.schedule == "custom") != (vesting.schedule_percentages is not None):
        problems.append(
            (
                "vesting.schedule_percentages",
                vesting.schedule_percentages,
                "a custom schedule is a list of percentages, and only a custom schedule has one",
                "Set vesting.schedule: custom together with schedule_percentages (e.g. [0, 0.2, 0.4, 0.6, 0.8, 1.0]), "
                "or schedule_percentages: null with another schedule.",
            )
        )
    if eligibility.employer_service_requirement == "two_years" and vesting.schedule != "immediate":
        problems.append(
            (
                "eligibility.employer_service_requirement",
                eligibility.employer_service_requirement,
                "two years of service before employer contributions need them 100% vested at once "
                "(IRC 410(a)(1)(B)(i))",
                "Set vesting.schedule: immediate, or employer_service_requirement: one_year.",
            )
        )
    problems += _contribution_problems(config)
    if not problems:
        return None
    key, value, message, fix = problems[0]
    return ConfigurationError(
        f"{message} (got {_shorten(repr(value))})", key=key, value=value, config_path=config_path, remediation=fix
    )


def _contribution_problems(config: SimulationConfig) -> list[tuple[str, Any, str, str]]:
    """The employer contribution settings that contradict each other or the law (key, value, why, fix).

    DOMAIN.md "Employer contributions beyond the match": permitted disparity (IRC 401(l)),
    allocation conditions (never on safe harbor money), safe harbor and QACA designs.
    """
    plan, match, core, design = config.plan, config.match, config.core, config.safe_harbor.safe_harbor_design
    problems: list[tuple[str, Any, str, str]] = []
    if (match.match_formula == "tiers") != (match.match_bands is None):
        problems.append(
            (
                "match.match_bands",
                match.match_bands,
                "service_bands and points_bands read a table of bands, and only they do",
                "Set match.match_formula: service_bands (or points_bands) together with match_bands, "
                "or match_bands: null with match_formula: tiers.",
            )
        )
    fields = PlanSettings.model_fields
    single = [
        name for name in ("match_rate", "match_cap", "match_tiers") if getattr(plan, name) != fields[name].default
    ]
    if match.match_formula != "tiers" and single:
        problems.append(
            (
                f"plan.{single[0]}",
                getattr(plan, single[0]),
                f"match_formula {match.match_formula} reads the tiers of each band (match.match_bands), not plan's",
                f"Remove plan.{', plan.'.join(single)}, or set match.match_formula: tiers.",
            )
        )
    if match.match_period == "plan_year" and match.true_up:
        problems.append(
            (
                "match.true_up",
                match.true_up,
                "a plan_year match is already computed on the year's totals; a true-up corrects a per-pay-period match",
                "Set match.match_period: pay_period, or true_up: false.",
            )
        )
    if match.match_period == "plan_year" and match.pay_frequency != MatchSettings.model_fields["pay_frequency"].default:
        problems.append(
            (
                "match.pay_frequency",
                match.pay_frequency,
                "the pay frequency is read only by a per-pay-period match",
                "Set match.match_period: pay_period, or leave pay_frequency at biweekly.",
            )
        )
    banded = core.core_formula.endswith("_bands")
    if banded != (core.core_bands is not None):
        problems.append(
            (
                "core.core_bands",
                core.core_bands,
                "age_bands, service_bands and points_bands read a table of bands, and only they do",
                "Set core.core_formula to a *_bands formula together with core_bands, or core_bands: null.",
            )
        )
    if core.core_rate > 0 and core.core_formula not in ("flat", "integrated"):
        problems.append(
            (
                "core.core_rate",
                core.core_rate,
                f"core_formula {core.core_formula} does not read core_rate, so it would pay nothing of it",
                "Set core.core_formula: flat (or integrated), or core_rate: 0.",
            )
        )
    if core.core_formula != "integrated" and (core.core_excess_rate > 0 or core.integration_level_share != 1.0):
        problems.append(
            (
                "core.core_excess_rate" if core.core_excess_rate > 0 else "core.integration_level_share",
                core.core_excess_rate if core.core_excess_rate > 0 else core.integration_level_share,
                "the excess rate and integration level belong to a core integrated with Social Security",
                "Set core.core_formula: integrated, or core_excess_rate: 0 and integration_level_share: 1.0.",
            )
        )
    if core.core_formula == "integrated":
        problems += _disparity_problems(core)
    problems += _safe_harbor_problems(config)
    if design == "none" or not design.startswith("qaca_"):
        return problems
    low, high = QACA_DEFAULT_RANGE
    if not plan.auto_enrollment:
        problems.append(
            (
                "plan.auto_enrollment",
                plan.auto_enrollment,
                f"a QACA ({design}) enrolls every eligible employee automatically (IRC 401(k)(13)(C))",
                "Set plan.auto_enrollment: true, or choose a safe harbor design without qaca_.",
            )
        )
    elif not low <= plan.default_deferral_rate <= high:
        problems.append(
            (
                "plan.default_deferral_rate",
                plan.default_deferral_rate,
                f"a QACA's default deferral is {low:.0%} to {high:.0%} of pay (IRC 401(k)(13)(C)(iii))",
                f"Set plan.default_deferral_rate between {low} and {high}.",
            )
        )
    elif plan.default_deferral_rate < QACA_FINAL_DEFAULT and not (
        plan.auto_escalation and plan.escalation_rate >= 0.01 and plan.escalation_cap >= QACA_FINAL_DEFAULT
    ):
        problems.append(
            (
                "plan.escalation_cap" if plan.auto_escalation else "plan.auto_escalation",
                plan.escalation_cap if plan.auto_escalation else plan.auto_escalation,
                f"a QACA's default rises by at least 1 point a year to at least {QACA_FINAL_DEFAULT:.0%} "
                "(IRC 401(k)(13)(C)(iii))",
                "Set plan.auto_escalation: true with escalation_rate >= 0.01 and escalation_cap >= "
                f"{QACA_FINAL_DEFAULT}, or plan.default_deferral_rate: {QACA_FINAL_DEFAULT}.",
            )
        )
    return problems


def _disparity_problems(core: CoreSettings) -> list[tuple[str, Any, str, str]]:
    """IRC 401(l)(2): the excess rate exceeds the base rate by at most the lesser of the base rate and 5.7 points."""
    limit = min(core.core_rate, permitted_disparity(core.integration_level_share))
    spread = core.core_excess_rate - core.core_rate
    if spread < 0:
        return [
            (
                "core.core_excess_rate",
                core.core_excess_rate,
                f"the rate above the integration level must be at least the base rate core_rate {core.core_rate}",
                f"Set core.core_excess_rate to between {core.core_rate} and {core.core_rate + limit:.4g}.",
            )
        ]
    if spread > limit + 1e-9:
        return [
            (
                "core.core_excess_rate",
                core.core_excess_rate,
                f"the spread over the base rate is {spread:.4g}; IRC 401(l)(2) permits at most the lesser of the base "
                f"rate ({core.core_rate:.4g}) and {permitted_disparity(core.integration_level_share):.3g} at an "
                f"integration level of {core.integration_level_share:g} x the taxable wage base",
                f"Lower core.core_excess_rate to at most {core.core_rate + limit:.4g}, or raise core.core_rate.",
            )
        ]
    return []


def _safe_harbor_problems(config: SimulationConfig) -> list[tuple[str, Any, str, str]]:
    """What a safe harbor design sets itself, and the allocation conditions its money cannot have."""
    plan, match, core, design = config.plan, config.match, config.core, config.safe_harbor.safe_harbor_design
    problems: list[tuple[str, Any, str, str]] = []
    why_conditions = (
        f"safe harbor contributions ({design}) go to every eligible employee: no last-day or hours condition "
        "(IRC 401(k)(12); Treas. Reg. 1.401(k)-3(c)(1), (b)(1))"
    )
    if design in SAFE_HARBOR_MATCH_TIERS:
        fields = PlanSettings.model_fields
        set_match = [
            f"plan.{name}"
            for name in ("match_rate", "match_cap", "match_tiers")
            if getattr(plan, name) != fields[name].default
        ]
        set_match += [
            f"match.{name}"
            for name in ("match_formula", "match_max_amount")
            if getattr(match, name) != MatchSettings.model_fields[name].default
        ]
        if set_match:
            problems.append(
                (
                    set_match[0],
                    getattr(plan if set_match[0].startswith("plan.") else match, set_match[0].split(".", 1)[1]),
                    f"safe_harbor_design {design} sets the match itself",
                    f"Remove {', '.join(set_match)} (the design's match applies), or set safe_harbor_design: none.",
                )
            )
        for key, value in (
            ("match.match_last_day", match.match_last_day),
            ("match.match_min_hours", match.match_min_hours),
        ):
            if value:
                problems.append(
                    (
                        key,
                        value,
                        why_conditions,
                        f"Set {key} to {'false' if value is True else 0}, or safe_harbor_design: none.",
                    )
                )
    if design in SAFE_HARBOR_NONELECTIVE_RATE:
        if core.core_formula != "none":
            problems.append(
                (
                    "core.core_formula",
                    core.core_formula,
                    f"safe_harbor_design {design} sets the core contribution itself (3% of pay)",
                    "Set core.core_formula: none (and core_rate: 0), or safe_harbor_design: none.",
                )
            )
        for key, value in (("core.core_last_day", core.core_last_day), ("core.core_min_hours", core.core_min_hours)):
            if value:
                problems.append(
                    (
                        key,
                        value,
                        why_conditions,
                        f"Set {key} to {'false' if value is True else 0}, or safe_harbor_design: none.",
                    )
                )
    return problems


def _first_configuration_error(
    exc: ValidationError, raw: dict[str, Any], config_path: Path | None
) -> ConfigurationError:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    value = error.get("input")
    if error["type"] == "extra_forbidden":
        return ConfigurationError(
            f"unknown key (value {_shorten(repr(value))})",
            key=key,
            value=value,
            config_path=config_path,
            remediation=_unknown_key_remediation(loc),
        )
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":
        remediation = f"Change {key}: {message}."
    else:
        field = _field_for(loc)
        expected = _describe_field(field) if field else "a valid value"
        rule = f" ({field.description})" if field is not None and field.description else ""
        remediation = f"Set {key or 'the config'} to {expected}{rule}."
    # The message is ours (a validator's sentence) or pydantic's, never the user's input, so it is
    # shown whole: cutting it at 200 characters cut the paths.database rule mid-sentence.
    return ConfigurationError(
        f"{message} (got {_shorten(repr(value))})",
        key=key or None,
        value=value,
        config_path=config_path,
        remediation=remediation,
    )


def _section_model(loc: list[str]) -> type[BaseModel]:
    model: type[BaseModel] = SimulationConfig
    for part in loc[:-1]:
        annotation = model.model_fields.get(part)
        if annotation is None or not isinstance(annotation.annotation, type):
            break
        if issubclass(annotation.annotation, BaseModel):
            model = annotation.annotation
    return model


def _unknown_key_remediation(loc: list[str]) -> str:
    model = _section_model(loc)
    known = [name for name in model.model_fields if name != "workspace_dir"]
    close = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.5)
    prefix = ".".join([*loc[:-1], close[0]]) if close else None
    if prefix:
        return f"Did you mean '{prefix}'? Rename the key; known keys here: {', '.join(known)}."
    return f"Remove the key; known keys here: {', '.join(known)}."


def _field_for(loc: list[str]) -> Any:
    model = _section_model(loc)
    return model.model_fields.get(loc[-1]) if loc else None


def _describe_field(field: Any) -> str:
    bounds = []
    for meta in field.metadata:
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            bound = getattr(meta, attr, None)
            if bound is not None:
                bounds.append(f"{symbol} {bound}")
    if get_origin(field.annotation) is Literal:
        return "one of " + ", ".join(repr(choice) for choice in get_args(field.annotation))
    kind = {int: "an integer", float: "a number", bool: "true or false", str: "a text value"}.get(
        field.annotation, "a number or null"
    )
    return f"{kind} " + " and ".join(bounds) if bounds else kind


def key_field(key: str) -> Any:
    """The pydantic field of a dotted config key (its type, bounds and description)."""
    section, name = key.split(".", 1)
    return _section_model([section, name]).model_fields[name]


def key_bounds(key: str) -> tuple[tuple[float, bool] | None, tuple[float, bool] | None]:
    """The bounds a dotted config key accepts, as (value, inclusive) or None where unbounded (for input widgets)."""
    field = key_field(key)
    lower: tuple[float, bool] | None = None
    upper: tuple[float, bool] | None = None
    for meta in field.metadata:
        for attr, inclusive in (("ge", True), ("gt", False)):
            if getattr(meta, attr, None) is not None:
                lower = (float(getattr(meta, attr)), inclusive)
        for attr, inclusive in (("le", True), ("lt", False)):
            if getattr(meta, attr, None) is not None:
                upper = (float(getattr(meta, attr)), inclusive)
    return lower, upper
