"""What a table or a simulated year is built from, and one fingerprint of all of it.

A build's inputs are the contents of the files its dbt code comes from (including
seed CSVs), the config values (dbt vars) it reads, the census contents when it reads
the census, the fingerprints of the tables it reads, the year it starts from, and the
package version. Contents are hashed, never trusted by name or date: touching a file
without changing its bytes changes nothing. Code files (SQL, YAML) are hashed in their
canonical form (see freshness.canonical), so a description, a comment or a new
indentation changes nothing either. Hashes are kept against the file's size and
modification time, so an unchanged file is never read twice.

Workspaces recorded before canonical forms hold digests of their code files' bytes.
They are not kept compatible: the first check after the upgrade finds their tables and
years stale once, saying the code was fingerprinted by an earlier release, and the next
run rebuilds them. A release upgrade already rebuilds everything (the package version is
an input), and judging old records by bytes would keep a second way of hashing alive for
the sake of one rebuild. What must never happen, a persisted digest of bytes taken for a
canonical one, cannot: each digest names its form, and `FileDigests.remember` adopts only
digests of the form their file is judged by now.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar

from planalign_orchestrator.freshness.canonical import form_for, is_of_current_form

PACKAGE_NAME = "planalign-notebook"
ABSENT = "absent"


@cache
def package_version() -> str:
    """The installed version of the code this process runs (looked up once: it cannot change under it)."""
    try:
        return version(PACKAGE_NAME)
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class FileStamp:
    """A file's size and modification time: what must change before its bytes are read again."""

    size: int
    mtime_ns: int


class FileDigests:
    """Digests of files by path (see content_digest), recomputed only when a file's size or mtime changed.

    Process-wide, because every AutoInitializer and status check of a process looks at
    the same few files; `remember` seeds it with digests persisted in the workspace's
    build state, so a new process does not re-read a large census either.
    """

    _known: ClassVar[dict[str, tuple[FileStamp, str]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def stamp(cls, path: Path) -> FileStamp | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        return FileStamp(stat.st_size, stat.st_mtime_ns)

    @classmethod
    def digest(cls, path: Path) -> str:
        """The file's content digest, or ABSENT when it does not exist or cannot be read."""
        key = str(path)
        stamp = cls.stamp(path)
        if stamp is None:
            return ABSENT
        with cls._lock:
            known = cls._known.get(key)
        if known is not None and known[0] == stamp:
            return known[1]
        try:
            digest = content_digest(path)
        except OSError:
            return ABSENT
        with cls._lock:
            cls._known[key] = (stamp, digest)
        return digest

    @classmethod
    def remember(cls, rows: Iterable[tuple[str, int, int, str]]) -> None:
        """Adopt persisted (path, size, mtime_ns, digest) rows that nothing newer replaced.

        A row whose digest is not of the form its file is judged by now (an earlier
        release's digest of a model's bytes) is left out: it would pass for a canonical one.
        """
        with cls._lock:
            for path, size, mtime_ns, digest in rows:
                if is_of_current_form(Path(path), digest):
                    cls._known.setdefault(path, (FileStamp(size, mtime_ns), digest))

    @classmethod
    def known_rows(cls, paths: Iterable[Path]) -> list[tuple[str, int, int, str]]:
        """(path, size, mtime_ns, digest) of the given files, for persisting."""
        rows = []
        with cls._lock:
            for path in paths:
                known = cls._known.get(str(path))
                if known is not None:
                    rows.append((str(path), known[0].size, known[0].mtime_ns, known[1]))
        return rows


def content_digest(path: Path) -> str:
    """A dbt code file's digest in its canonical form; any other file's sha256 (read in blocks: a census is large)."""
    form = form_for(path)
    return _sha256(path) if form is None else form.digest(path.read_bytes())


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def fingerprint(components: Mapping[str, Any]) -> str:
    """One hash of a build's inputs (canonical JSON, so key order never matters)."""
    text = json.dumps(components, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Recipe:
    """How one table (or the yearly models) is built, as dbt's manifest described it.

    `files` are project-relative; `vars` the config values the code reads; `upstream`
    the required tables it reads; `reads_census` whether the census is an input. Stored
    with each build record, so a status check needs neither dbt nor a parse: if these
    files are unchanged, so is the recipe.
    """

    files: tuple[str, ...]
    vars: tuple[str, ...]
    upstream: tuple[str, ...]
    reads_census: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "vars": list(self.vars),
            "upstream": list(self.upstream),
            "reads_census": self.reads_census,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Recipe:
        return cls(
            files=tuple(data.get("files", ())),
            vars=tuple(data.get("vars", ())),
            upstream=tuple(data.get("upstream", ())),
            reads_census=bool(data.get("reads_census", False)),
        )


@dataclass(frozen=True)
class CurrentInputs:
    """The inputs as they are now: project folder, config vars and census file."""

    project_dir: Path
    vars: Mapping[str, Any]
    census_path: Path | None

    def components(
        self,
        recipe: Recipe,
        upstream: Mapping[str, str | None],
        *,
        overrides: Mapping[str, Any] | None = None,
        prior_year: str | None = None,
    ) -> dict[str, Any]:
        """The inputs of one build under `recipe`, given the fingerprints of what it reads."""
        values = {**self.vars, **(overrides or {})}
        components: dict[str, Any] = {
            "package": package_version(),
            "files": {name: FileDigests.digest(self.project_dir / name) for name in recipe.files},
            "vars": {name: values.get(name) for name in recipe.vars},
            "upstream": dict(upstream),
        }
        if recipe.reads_census:
            census = self.census_path
            components["census"] = FileDigests.digest(census) if census is not None else ABSENT
        if prior_year is not None:
            components["prior_year"] = prior_year
        return components

    def signature(self) -> tuple[Any, ...]:
        """Cheap to compute, and different whenever any input could have changed.

        Stats every file of the dbt project plus the census, and the config vars; used
        to skip a whole check when nothing moved since the last one found all fresh.
        """
        stamps = [(str(path), FileDigests.stamp(path)) for path in sorted(_project_files(self.project_dir))]
        census = FileDigests.stamp(self.census_path) if self.census_path else None
        return (
            package_version(),
            tuple(stamps),
            census,
            json.dumps(dict(self.vars), sort_keys=True, default=str),
        )


def _project_files(project_dir: Path) -> list[Path]:
    files = [project_dir / "dbt_project.yml"]
    for folder in ("models", "macros", "seeds"):
        root = project_dir / folder
        if root.is_dir():
            files.extend(path for path in root.rglob("*") if path.suffix in {".sql", ".yml", ".yaml", ".csv"})
    return files
