"""Excel workbooks of results: one sheet per frame, written with openpyxl through pandas.

Analysts take results to Excel; a workbook holds the numbers together with what they
were computed from (config, overrides, package version, seeds, input fingerprints),
so a figure in a slide can be traced back to its run.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign_orchestrator.config import SimulationConfig
from planalign_orchestrator.diskspace import disk_full_translated, export_estimate, require_free_space
from planalign_orchestrator.exceptions import DiskFullError, disk_full_elsewhere

if TYPE_CHECKING:
    import pandas as pd

MAX_SHEET_NAME = 31  # Excel's limit


def write_workbook(path: Path | str, sheets: Mapping[str, pd.DataFrame]) -> Path:
    """Write the frames as sheets (in order) and return the path; the folder must exist.

    Index labels are repeated on every row rather than merged, so each sheet stays a
    flat table an analyst can filter, sort and pivot in Excel. The folder's free space
    is checked first; the workbook is written under a temporary name and renamed into
    place, so a full disk (DiskFullError) never leaves half a workbook behind.
    """
    import pandas as pd

    target = Path(path)
    needed = export_estimate(sum(int(frame.memory_usage(deep=True).sum()) for frame in sheets.values()))
    with written_in_place(target, needed, purpose=f"write the workbook {target.name}") as temporary:
        # Built in memory, then written in one go: openpyxl interrupted by a full disk
        # would leave its zip file half-closed (an "Exception ignored" report at exit).
        workbook = io.BytesIO()
        with pd.ExcelWriter(workbook, engine="openpyxl") as writer:
            for name, frame in sheets.items():
                frame.to_excel(writer, sheet_name=name[:MAX_SHEET_NAME], merge_cells=False)
        temporary.write_bytes(workbook.getbuffer())
    return target


def write_frames(folder: Path | str, frames: Mapping[str, pd.DataFrame], format: str) -> list[Path]:
    """Write each frame to `<folder>/<name>.<format>` (csv or parquet), checked and placed like a workbook."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in frames.items():
        path = target / f"{name}.{format}"
        needed = export_estimate(int(frame.memory_usage(deep=True).sum()))
        with written_in_place(path, needed, purpose=f"write {path.name}") as temporary:
            if format == "csv":
                frame.to_csv(temporary, index=False)
            else:
                frame.to_parquet(temporary, index=False)
        paths.append(path)
    return paths


@contextmanager
def written_in_place(target: Path, needed_bytes: int, *, purpose: str) -> Iterator[Path]:
    """A temporary path beside `target` to write to; renamed to `target` when the block succeeds, removed otherwise.

    The folder must have `needed_bytes` free first (DiskFullError otherwise), and a
    disk that fills up while writing ends in DiskFullError, never in a traceback.
    """
    folder = target.parent
    temporary = folder / f".{target.stem}.{os.getpid()}.partial{target.suffix}"  # pandas goes by the suffix
    try:
        require_free_space(folder, needed_bytes, purpose=purpose)
        with disk_full_translated(folder, purpose=purpose, needed_bytes=needed_bytes, path=target):
            yield temporary
            os.replace(temporary, target)
    except DiskFullError as full:
        raise disk_full_elsewhere(full, "write it to a folder on a volume with more room") from full.__cause__
    finally:
        temporary.unlink(missing_ok=True)


def flat_config(config: SimulationConfig) -> dict[str, Any]:
    """A validated config as dotted key -> value (what the 'config' sheets list)."""
    dumped = config.model_dump(mode="json")
    return {f"{section}.{key}": value for section, values in dumped.items() for key, value in values.items()}
