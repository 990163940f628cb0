"""What the current config expects of the people in a history: the model's own rates, person by person.

The expected side of actual-vs-expected is the yearly model's arithmetic, done here on
the history's people instead of a simulated population (dbt/models/simulation/
int_yearly_experienced_changes.sql and int_yearly_new_hires.sql; a test holds the two
equal on a simulated year):

- retirement: config_retirement_rates (or assumptions.retirement_rates) at the age on
  the interval's last day; ages past the table's last row use its last rate, ages
  below its first have none, and past workforce.max_working_age it is 1;
- termination: base x tenure multiplier x age multiplier x level factor (the seeds, or
  the assumptions.* tables), at most 1, with the base calibrated for each interval so
  that expected retirements plus terminations equal workforce.termination_rate x the
  people at risk; a termination happens only if retirement does not (one draw, two
  competing risks), so its probability is (1 - p_retire) x p_terminate;
- a hire with d days left in the year leaves within it with probability
  1 - (1 - new_hire_termination_rate)^(d / 365.25);
- promotion: compensation.promotion_probability, else assumptions.promotion_probabilities,
  else comp_levers' rate of the plan year, by level (the top level is never promoted);
- raise: the plan year's COLA plus merit budget (compensation overrides, else comp_levers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planalign_orchestrator.assumption_tables import (
    AGE_MULTIPLIERS,
    LEVEL_FACTORS,
    RETIREMENT_RATES,
    TENURE_MULTIPLIERS,
    AssumptionTable,
    seed_path,
    seed_rows,
    table_ids,
    table_labels,
    table_values,
)
from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.workspace import dbt_project_dir

DAYS_PER_YEAR = 365.25
NO_BAND = "(no band)"


@dataclass(frozen=True)
class Bands:
    """A band seed (tenure or age) with the multipliers in force: [min, max) in whole years."""

    labels: tuple[str, ...]
    lower: tuple[int, ...]
    upper: tuple[int, ...]
    values: tuple[float, ...]

    def index(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """The band of each whole-year value (-1 where no band holds it: multiplier 1, as in the model)."""
        data = np.asarray(values, dtype=np.int64)
        found = np.full(data.shape, -1, dtype=np.int64)
        for band, (low, high) in enumerate(zip(self.lower, self.upper, strict=True)):
            found[(data >= low) & (data < high)] = band
        return found

    def label(self, values: pd.Series | np.ndarray) -> np.ndarray:
        index = self.index(values)
        names = np.array([*self.labels, NO_BAND], dtype=object)
        return names[np.where(index >= 0, index, len(self.labels))]

    def multiplier(self, values: pd.Series | np.ndarray) -> np.ndarray:
        index = self.index(values)
        table = np.array([*self.values, 1.0])
        return table[np.where(index >= 0, index, len(self.values))]


@dataclass(frozen=True)
class CurrentAssumptions:
    """The assumptions of one config (seeds plus its overrides), as the yearly model applies them."""

    config: SimulationConfig
    tenure: Bands
    age: Bands
    level_ids: tuple[int, ...]
    level_names: tuple[str, ...]
    level_factors: tuple[float, ...]
    retirement_ages: tuple[int, ...]
    retirement_rates: tuple[float, ...]
    levers: pd.DataFrame  # comp_levers: plan_year, level_id, merit_base, cola_rate, promotion_probability

    @classmethod
    def of(cls, config: SimulationConfig, project_dir: Path | None = None) -> CurrentAssumptions:
        project = project_dir or dbt_project_dir()
        return cls(
            config,
            _bands(config, TENURE_MULTIPLIERS, project),
            _bands(config, AGE_MULTIPLIERS, project),
            tuple(table_ids(LEVEL_FACTORS, project)),
            tuple(table_labels(LEVEL_FACTORS, project)),
            tuple(table_values(config, LEVEL_FACTORS, project)),
            tuple(table_ids(RETIREMENT_RATES, project)),
            tuple(table_values(config, RETIREMENT_RATES, project)),
            pd.read_csv(seed_path("comp_levers", project)),
        )

    @property
    def top_level(self) -> int:
        return max(self.level_ids)

    # -- experienced employees ------------------------------------------------------------

    def retirement_probability(self, age: pd.Series | np.ndarray) -> np.ndarray:
        ages = np.asarray(age, dtype=np.int64)
        table = dict(zip(self.retirement_ages, self.retirement_rates, strict=True))
        clipped = np.minimum(ages, max(self.retirement_ages))
        rates = _lookup(clipped, table, 0.0)
        return np.where(ages > self.config.workforce.max_working_age, 1.0, rates)

    def level_factor(self, level: pd.Series | np.ndarray) -> np.ndarray:
        return _lookup(
            np.asarray(level, dtype=np.int64), dict(zip(self.level_ids, self.level_factors, strict=True)), 1.0
        )

    def termination_weight(self, tenure: pd.Series, age: pd.Series, level: pd.Series) -> np.ndarray:
        weight = self.tenure.multiplier(tenure) * self.age.multiplier(age) * self.level_factor(level)
        return np.asarray(weight, dtype=np.float64)

    def experienced(self, people: pd.DataFrame) -> pd.DataFrame:
        """p_retire, p_terminate (the model's termination_probability) and the expected termination, per row.

        `people` has interval, age, tenure and level_id; the base is calibrated per
        interval over its rows, as the model calibrates it per year over the people
        employed on 1 January.
        """
        p_retire = self.retirement_probability(people["age"])
        weight = self.termination_weight(people["tenure"], people["age"], people["level_id"])
        frame = pd.DataFrame({"interval": people["interval"].to_numpy(), "p_retire": p_retire, "weight": weight})
        rate = self.config.workforce.termination_rate
        sums = (
            frame.assign(at_risk=(1 - p_retire) * weight)
            .groupby("interval")
            .agg(people=("p_retire", "size"), retiring=("p_retire", "sum"), at_risk=("at_risk", "sum"))
        )
        base = (np.maximum(rate * sums["people"] - sums["retiring"], 0) / sums["at_risk"].replace(0, np.nan)).fillna(0)
        p_terminate = np.minimum(frame["interval"].map(base).to_numpy() * weight, 1.0)
        return pd.DataFrame(
            {
                "p_retire": p_retire,
                "p_terminate": p_terminate,
                "expected_termination": (1 - p_retire) * p_terminate,
            },
            index=people.index,
        )

    # -- new hires --------------------------------------------------------------------------

    @property
    def new_hire_hazard(self) -> float:
        """The yearly hazard behind new_hire_termination_rate: -ln(1 - rate)."""
        return float(-np.log1p(-self.config.workforce.new_hire_termination_rate))

    def new_hire_leaving(self, days_left: pd.Series) -> np.ndarray:
        rate = self.config.workforce.new_hire_termination_rate
        return 1 - (1 - rate) ** (np.asarray(days_left, dtype=np.float64) / DAYS_PER_YEAR)

    # -- pay and promotion levers -------------------------------------------------------------

    def lever_rows(self, year: int) -> pd.DataFrame:
        """comp_levers' rows that apply to a plan year: its latest plan_year <= year, else the first."""
        years = self.levers["plan_year"]
        chosen = years[years <= year].max() if (years <= year).any() else years.min()
        rows: pd.DataFrame = self.levers[years == chosen].set_index("level_id")
        return rows

    def promotion_rate(self, level: int, year: int) -> float:
        if level >= self.top_level:
            return 0.0
        overall = self.config.compensation.promotion_probability
        if overall is not None:
            return float(overall)
        listed = self.config.assumptions.promotion_probabilities
        if listed is not None:
            return float(dict(zip(self.level_ids, listed, strict=True)).get(level, 0.0))
        rows = self.lever_rows(year)
        return _lever(rows, level, "promotion_probability")

    def promotion_rates_of(self, levels: pd.Series, years: pd.Series) -> np.ndarray:
        """promotion_rate for every (level, plan year) of two aligned columns."""
        return _per_pair(levels, years, self.promotion_rate)

    def nominal_raises_of(self, levels: pd.Series, years: pd.Series) -> np.ndarray:
        """nominal_raise for every (level, plan year) of two aligned columns."""
        return _per_pair(levels, years, self.nominal_raise)

    def promotion_rates(self, year: int) -> list[float]:
        """Every level's promotion rate in a plan year (the list assumptions.promotion_probabilities replaces)."""
        return [self.promotion_rate(level, year) for level in self.level_ids]

    def nominal_raise(self, level: int, year: int) -> float:
        """The plan year's COLA plus merit budget for a level (before compa-ratio spreading and range caps)."""
        rows = self.lever_rows(year)
        compensation = self.config.compensation
        cola = compensation.cola_rate if compensation.cola_rate is not None else _lever(rows, level, "cola_rate")
        merit = compensation.merit_rate if compensation.merit_rate is not None else _lever(rows, level, "merit_base")
        return float(cola + merit)


def _lookup(keys: np.ndarray, table: dict[int, float], default: float) -> np.ndarray:
    values = np.full(keys.shape, default, dtype=np.float64)
    for key, value in table.items():
        values[keys == key] = value
    return values


def _per_pair(levels: pd.Series, years: pd.Series, value: Callable[[int, int], float]) -> np.ndarray:
    pairs = pd.DataFrame({"level": np.asarray(levels, dtype=np.int64), "year": np.asarray(years, dtype=np.int64)})
    unique = pairs.drop_duplicates()
    known = {(int(level), int(year)): value(int(level), int(year)) for level, year in unique.itertuples(index=False)}
    return np.array([known[(int(level), int(year))] for level, year in pairs.itertuples(index=False)], dtype=float)


def _lever(rows: pd.DataFrame, level: int, column: str) -> float:
    if level not in rows.index:
        return 0.0
    value: Any = rows.loc[level, column]
    return float(value)


def _bands(config: SimulationConfig, table: AssumptionTable, project: Path) -> Bands:
    rows = seed_rows(table.seed, table.id_column, project)
    return Bands(
        tuple(row["band_label"] for row in rows),
        tuple(int(float(row["min_value"])) for row in rows),
        tuple(int(float(row["max_value"])) for row in rows),
        tuple(table_values(config, table, project)),
    )
