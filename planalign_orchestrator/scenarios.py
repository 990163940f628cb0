"""Named scenarios: the workspace's config plus a few overrides, kept as `scenarios/<name>.yaml`.

The workspace's own `simulation_config.yaml` is the scenario called `baseline`. A
named scenario stores only its overrides (dotted keys such as `plan.match_rate`), so
a later edit of the base config reaches every scenario, and its freshness with it.
Overrides are validated by the same rules, with the same messages, as the config
itself. Scenarios share the census, the seeds and the foundation tables (their
results are keyed by scenario in the fact tables), so what those read cannot be
overridden per scenario: the census and database paths, and the start year.
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
class Scenario:
    """A scenario's name and its overrides of the base config (dotted key -> value)."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def is_baseline(self) -> bool:
        return self.name == BASELINE_SCENARIO

    def describe(self) -> str:
        if not self.overrides:
            return "the workspace's simulation_config.yaml" if self.is_baseline else "no overrides"
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
    """'plan.match_rate=1.0' -> ('plan.match_rate', 1.0); the value is read as a YAML scalar."""
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
    if isinstance(parsed, dict | list):
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
            return Scenario(BASELINE_SCENARIO), self.workspace.config
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
        unknown = sorted(set(raw) - {"overrides"})
        if unknown or not isinstance(overrides, dict):
            raise ConfigurationError(
                f"expected only an `overrides:` mapping, found {', '.join(unknown) or type(overrides).__name__}",
                config_path=path,
                remediation="Keep one top-level key, `overrides:`, mapping section.key to a value.",
            )
        return Scenario(name, {str(key): value for key, value in overrides.items()})

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
        Saving the same overrides again changes nothing.
        """
        config = self.validate(name, overrides)
        if name == BASELINE_SCENARIO:
            return Scenario(BASELINE_SCENARIO), config
        changes = self.changes(name, overrides)
        if changes and not overwrite:
            raise ScenarioExistsError(name, [change.describe() for change in changes])
        scenario = Scenario(name, dict(overrides))
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (
            f"# Scenario {name!r}: the workspace's simulation_config.yaml with these overrides.\n"
            f"# Run it with `planalign simulate {self._years()} --scenario {name}`; "
            "edit or add section.key: value lines.\n"
            + yaml.safe_dump({"overrides": scenario.overrides}, sort_keys=False)
        )
        staging = path.with_name(f".{path.name}.{os.getpid()}")
        staging.write_text(text)
        os.replace(staging, path)
        return scenario, config

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
        return config.model_copy(update={"scenario": scenario.name})


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
