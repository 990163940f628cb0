"""Named scenarios: the workspace's config plus a few overrides, kept as `scenarios/<name>.yaml`.

The workspace's own `simulation_config.yaml` is the scenario called `baseline`. A
named scenario stores only its overrides (dotted keys such as `plan.match_rate`), so
a later edit of the base config reaches every scenario, and its freshness with it.
Overrides are validated by the same rules, with the same messages, as the config
itself. Scenarios share the census, the seeds and the foundation tables (their
results are keyed by scenario in the fact tables), so what those read cannot be
overridden per scenario: the census and database paths, and the start year.

A fitted scenario (`planalign fit`) also records where its overrides came from: the
census history files, their dates and content digests (`fitted_from:`). Freshness
compares them with the files as they are now (freshness.sources), and the store never
overwrites a fitted scenario, nor saves a fit over any existing name: a refit gets a
new name, so a scenario's numbers always match the history it says it came from.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from planalign_orchestrator.assumption_tables import check_assumption_tables
from planalign_orchestrator.config import (
    BASELINE_SCENARIO,
    SimulationConfig,
    known_keys,
    read_yaml_mapping,
    validate_config,
)
from planalign_orchestrator.exceptions import ConfigurationError, ScenarioExistsError
from planalign_orchestrator.workspace import Workspace

SCENARIOS_DIR = "scenarios"
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
SHARED_KEYS = {
    "paths.census": "the census",
    "paths.database": "the database",
    "simulation.start_year": "the start year (the foundation tables are built as of it)",
}


@dataclass(frozen=True)
class HistorySource:
    """One census history file a fitted scenario came from: where, as of when, and its content digest.

    `path` is relative to the workspace folder when the file lies inside it (so a moved
    workspace keeps its history), else absolute.
    """

    path: str
    as_of: str
    digest: str

    def resolve(self, root: Path) -> Path:
        return root / self.path


@dataclass(frozen=True)
class FitProvenance:
    """What a fitted scenario was fitted from: its history files and when."""

    sources: tuple[HistorySource, ...]
    fitted_at: str

    def to_yaml(self) -> dict[str, Any]:
        return {
            "fitted_at": self.fitted_at,
            "history": [{"file": s.path, "as_of": s.as_of, "sha256": s.digest} for s in self.sources],
        }

    @classmethod
    def from_yaml(cls, raw: Any, path: Path) -> FitProvenance:
        """Read `fitted_from:` back; ConfigurationError naming the file when it is not what fit writes."""
        problem = "expected `fitted_from:` with fitted_at and a history list of {file, as_of, sha256}"
        if not isinstance(raw, dict) or not isinstance(raw.get("history"), list) or not raw["history"]:
            raise ConfigurationError(problem, config_path=path, remediation=_FITTED_FROM_FIX)
        sources = []
        for entry in raw["history"]:
            if not isinstance(entry, dict) or not all(
                isinstance(entry.get(k), str) for k in ("file", "as_of", "sha256")
            ):
                raise ConfigurationError(f"{problem} (found {entry!r})", config_path=path, remediation=_FITTED_FROM_FIX)
            sources.append(HistorySource(entry["file"], entry["as_of"], entry["sha256"]))
        return cls(tuple(sources), str(raw.get("fitted_at", "")))

    def describe(self) -> str:
        dates = sorted(source.as_of for source in self.sources)
        return f"fitted from {len(self.sources)} census snapshots ({dates[0]} .. {dates[-1]})"


_FITTED_FROM_FIX = (
    "Restore the file as `planalign fit` wrote it, or fit again under a new name "
    "(`planalign fit --history DIR --scenario NEW_NAME`)."
)


@dataclass(frozen=True)
class Scenario:
    """A scenario's name and its overrides of the base config (dotted key -> value).

    `fitted_from` is set for a scenario written by `planalign fit`: the history it came from.
    """

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    fitted_from: FitProvenance | None = None

    @property
    def is_baseline(self) -> bool:
        return self.name == BASELINE_SCENARIO

    @property
    def is_fitted(self) -> bool:
        return self.fitted_from is not None

    def describe(self) -> str:
        if not self.overrides:
            return "the workspace's simulation_config.yaml" if self.is_baseline else "no overrides"
        if self.fitted_from is not None:
            return f"{self.fitted_from.describe()}; {len(self.overrides)} overrides in {SCENARIOS_DIR}/{self.name}.yaml"
        return ", ".join(f"{key}={value!r}" for key, value in self.overrides.items())


_UNSET = object()


@dataclass(frozen=True)
class OverrideChange:
    """One key whose override a scenario's new overrides would change, with the values the scenario runs with.

    `before` and `after` are the values in effect: the override, or the base config's
    value where there is none (`overridden_before` / `overridden_after` say which).
    """

    key: str
    before: Any
    after: Any
    overridden_before: bool
    overridden_after: bool

    def describe(self) -> str:
        """'plan.match_rate: 1.0 -> 0.8', saying when a side is the base config's value rather than an override."""
        before = f"{self.before!r}" + ("" if self.overridden_before else " (the config's)")
        after = f"{self.after!r}" + ("" if self.overridden_after else " (the config's)")
        return f"{self.key}: {before} -> {after}"


def check_name(name: str) -> str:
    """A scenario name safe as a file name and as a key in every table, or ConfigurationError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"invalid scenario name {name!r}",
            remediation=(
                "Use 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit (e.g. high_match)."
            ),
        )
    return name


def parse_assignment(text: str) -> tuple[str, Any]:
    """'plan.match_rate=1.0' -> ('plan.match_rate', 1.0); the value is read as a YAML scalar or list.

    A list is a table-valued assumption, e.g. 'assumptions.tenure_termination_multipliers=[2.4, 0.8, 0.5, 0.35, 0.25]'.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigurationError(
            f"override {text!r} is not KEY=VALUE",
            remediation="Write overrides as section.key=value, e.g. --set plan.match_rate=1.0.",
        )
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    if isinstance(parsed, dict):
        parsed = value
    return key.strip(), parsed


class ScenarioStore:
    """The scenarios of one workspace: `scenarios/<name>.yaml` beside its config.

    Every face saves and opens scenarios here, so the rules hold however a scenario is
    made: its overrides validate like the config, and it may not override a value the
    shared tables are built from. `shared_vars` names the config values (dbt vars) the
    workspace's shared tables were recorded as reading; beyond the static SHARED_KEYS,
    overriding one of those is refused too.
    """

    def __init__(self, workspace: Workspace, *, shared_vars: Callable[[], Collection[str]] = tuple) -> None:
        self.workspace = workspace
        self.folder = workspace.root / SCENARIOS_DIR
        self._shared_vars = shared_vars

    def path(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}.yaml"

    def names(self) -> list[str]:
        """The baseline first, then every saved scenario by name."""
        saved = sorted(path.stem for path in self.folder.glob("*.yaml") if _NAME.fullmatch(path.stem))
        return [BASELINE_SCENARIO, *(name for name in saved if name != BASELINE_SCENARIO)]

    def load(self, name: str) -> Scenario:
        return self.open(name)[0]

    def open(self, name: str) -> tuple[Scenario, SimulationConfig]:
        """A saved scenario and the config it runs with, read and validated once."""
        if check_name(name) == BASELINE_SCENARIO:
            config = self.workspace.config
            return Scenario(BASELINE_SCENARIO), check_assumption_tables(config, config_path=self.workspace.config_path)
        scenario = self.read(name)
        return scenario, self.config(scenario, config_path=self.path(name))

    def read(self, name: str) -> Scenario:
        """A saved scenario's overrides as written, not validated yet (open() validates them)."""
        if check_name(name) == BASELINE_SCENARIO:
            return Scenario(BASELINE_SCENARIO)
        path = self.path(name)
        if not path.is_file():
            known = ", ".join(self.names())
            raise ConfigurationError(
                f"there is no scenario {name!r} in {self.workspace.root} (known: {known})",
                remediation=(
                    f"Create it by giving overrides, e.g. `planalign simulate {self._years()} --scenario {name} "
                    f"--set plan.match_rate=1.0`, or nb.simulate(ws, scenario={name!r}, overrides={{...}})."
                ),
            )
        raw = read_yaml_mapping(path, remediation=f"Write {path.name} as `overrides:` followed by section.key: value.")
        overrides = raw.get("overrides") or {}
        unknown = sorted(set(raw) - {"overrides", "fitted_from"})
        if unknown or not isinstance(overrides, dict):
            raise ConfigurationError(
                f"expected only an `overrides:` mapping, found {', '.join(unknown) or type(overrides).__name__}",
                config_path=path,
                remediation="Keep one top-level key, `overrides:`, mapping section.key to a value "
                "(and `fitted_from:` in a scenario written by `planalign fit`).",
            )
        fitted_from = FitProvenance.from_yaml(raw["fitted_from"], path) if "fitted_from" in raw else None
        return Scenario(name, {str(key): value for key, value in overrides.items()}, fitted_from)

    def _years(self) -> str:
        """The workspace config's years as a command takes them (2025-2027)."""
        settings = self.workspace.config.simulation
        return f"{settings.start_year}-{settings.end_year}"

    def validate(self, name: str, overrides: Mapping[str, Any]) -> SimulationConfig:
        """The config scenario `name` would run with these overrides; ConfigurationError if it cannot be."""
        if check_name(name) == BASELINE_SCENARIO and overrides:
            raise ConfigurationError(
                "the baseline is the workspace's own simulation_config.yaml; it takes no overrides",
                remediation="Edit simulation_config.yaml, or give the scenario another name.",
            )
        return self.config(Scenario(name, dict(overrides)))

    def changes(self, name: str, overrides: Mapping[str, Any]) -> list[OverrideChange]:
        """What saving these overrides under `name` would change in the scenario saved there (empty if none is)."""
        if check_name(name) == BASELINE_SCENARIO or not self.path(name).is_file():
            return []
        saved = self.read(name).overrides
        base = self.workspace.config.model_dump(mode="json")
        changes = []
        for key in dict.fromkeys([*saved, *overrides]):
            before, after = saved.get(key, _UNSET), overrides.get(key, _UNSET)
            if before == after:
                continue
            section, _, field_name = key.partition(".")
            values = base.get(section)
            inherited = values.get(field_name) if isinstance(values, dict) else None
            changes.append(
                OverrideChange(
                    key,
                    inherited if before is _UNSET else before,
                    inherited if after is _UNSET else after,
                    overridden_before=before is not _UNSET,
                    overridden_after=after is not _UNSET,
                )
            )
        return changes

    def save(
        self, name: str, overrides: Mapping[str, Any], *, overwrite: bool = False
    ) -> tuple[Scenario, SimulationConfig]:
        """Create a scenario, or replace its overrides, validated before anything is written; and its config.

        A scenario saved with other overrides is replaced only with `overwrite`: its
        results belong to the overrides it has, and replacing them unasked loses both.
        Saving the same overrides again changes nothing. A fitted scenario is never
        replaced: its overrides are what its history says.
        """
        config = self.validate(name, overrides)
        if name == BASELINE_SCENARIO:
            return Scenario(BASELINE_SCENARIO), config
        path = self.path(name)
        if path.is_file() and self.read(name).is_fitted:
            raise ConfigurationError(
                f"scenario {name!r} was fitted from a census history (`planalign fit`) and is never overwritten",
                config_path=path,
                remediation=(
                    f"Give your changes a new scenario name (e.g. --scenario {name}_edit, with its overrides "
                    f"copied from {path.name}), or fit again under a new name."
                ),
            )
        changes = self.changes(name, overrides)
        if changes and not overwrite:
            raise ScenarioExistsError(name, [change.describe() for change in changes])
        scenario = Scenario(name, dict(overrides))
        header = (
            f"# Scenario {name!r}: the workspace's simulation_config.yaml with these overrides.\n"
            f"# Run it with `planalign simulate {self._years()} --scenario {name}`; "
            "edit or add section.key: value lines.\n"
        )
        self._write(path, header, {"overrides": scenario.overrides})
        return scenario, config

    def require_new(self, name: str) -> str:
        """A name no scenario has yet (what a fit is saved under); ConfigurationError otherwise."""
        if check_name(name) == BASELINE_SCENARIO or name in self.names():
            raise ConfigurationError(
                f"a scenario named {name!r} exists already; a fit never overwrites a scenario",
                remediation=(
                    f"Name the fitted scenario anew, e.g. `planalign fit --history DIR --scenario {name}_2` "
                    f"(or nb.fit(ws, history, scenario={name + '_2'!r}))."
                ),
            )
        return name

    def save_fitted(
        self, name: str, overrides: Mapping[str, Any], provenance: FitProvenance, *, report: str | None = None
    ) -> tuple[Scenario, SimulationConfig]:
        """Write a fitted scenario under a name no scenario has yet; refused (nothing written) otherwise."""
        self.require_new(name)
        config = self.validate(name, overrides)
        scenario = Scenario(name, dict(overrides), provenance)
        header = (
            f"# Scenario {name!r}: fitted by `planalign fit` from a census history on {provenance.fitted_at}.\n"
            "# Its overrides are what the history showed (the report: "
            f"{report or name + '.fit.csv'}); it is stale when a history file changes,\n"
            "# and never overwritten: fit again under a new name. "
            f"Run it with `planalign simulate {self._years()} --scenario {name}`.\n"
        )
        self._write(self.path(name), header, {"fitted_from": provenance.to_yaml(), "overrides": scenario.overrides})
        return scenario, config

    def _write(self, path: Path, header: str, content: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = header + yaml.dump(content, Dumper=_ScenarioDumper, sort_keys=False, width=120)
        staging = path.with_name(f".{path.name}.{os.getpid()}")
        staging.write_text(text)
        os.replace(staging, path)

    def config(self, scenario: Scenario, *, config_path: Path | None = None) -> SimulationConfig:
        """The base config with the scenario's overrides, validated like the config itself."""
        base = self.workspace.config
        if scenario.is_baseline:
            return base
        raw = base.model_dump(mode="json")
        shared = set(self._shared_vars()) if scenario.overrides else set()
        for key, value in scenario.overrides.items():
            section, name = _split_key(key, value, config_path)
            if name in shared:
                raise ConfigurationError(
                    f"scenario {scenario.name!r} overrides a value the workspace's shared tables are built from; "
                    "every scenario shares them",
                    key=key,
                    value=value,
                    config_path=config_path or self.path(scenario.name),
                    remediation=f"Set {key} in simulation_config.yaml instead, or remove it from the scenario.",
                )
            raw[section][name] = value
        config = validate_config(raw, workspace_dir=base.workspace_dir, config_path=config_path)
        check_assumption_tables(config, config_path=config_path or self.path(scenario.name))
        return config.model_copy(update={"scenario": scenario.name})


class _ScenarioDumper(yaml.SafeDumper):
    """Block style, except that a list of numbers (an assumption table) stays on one line."""

    def represent_list(self, data: list[Any]) -> yaml.Node:  # type: ignore[override]  # PyYAML's untyped hook
        scalars = all(isinstance(item, int | float | str | bool) or item is None for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=scalars)


_ScenarioDumper.add_representer(list, _ScenarioDumper.represent_list)


def _split_key(key: str, value: Any, config_path: Path | None) -> tuple[str, str]:
    keys = known_keys()
    if key not in keys:
        close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        hint = f"Did you mean '{close[0]}'? " if close else ""
        raise ConfigurationError(
            f"unknown override key (value {value!r})",
            key=key,
            value=value,
            config_path=config_path,
            remediation=f"{hint}Overridable keys: {', '.join(k for k in keys if k not in SHARED_KEYS)}.",
        )
    if key in SHARED_KEYS:
        raise ConfigurationError(
            f"a scenario cannot override {SHARED_KEYS[key]} (value {value!r}): every scenario of a workspace shares it",
            key=key,
            value=value,
            config_path=config_path,
            remediation=f"Set {key} in simulation_config.yaml, or use another workspace for a different one.",
        )
    section, name = key.split(".", 1)
    return section, name
