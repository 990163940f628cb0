"""Excel workbooks of results: one sheet per frame, written with openpyxl through pandas.

Analysts take results to Excel; a workbook holds the numbers together with what they
were computed from (config, overrides, package version, seeds, input fingerprints),
so a figure in a slide can be traced back to its run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planalign_orchestrator.config import SimulationConfig

if TYPE_CHECKING:
    import pandas as pd

MAX_SHEET_NAME = 31  # Excel's limit


def write_workbook(path: Path | str, sheets: Mapping[str, pd.DataFrame]) -> Path:
    """Write the frames as sheets (in order) and return the path; the folder must exist.

    Index labels are repeated on every row rather than merged, so each sheet stays a
    flat table an analyst can filter, sort and pivot in Excel.
    """
    import pandas as pd

    target = Path(path)
    with pd.ExcelWriter(target, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name[:MAX_SHEET_NAME], merge_cells=False)
    return target


def flat_config(config: SimulationConfig) -> dict[str, Any]:
    """A validated config as dotted key -> value (what the 'config' sheets list)."""
    dumped = config.model_dump(mode="json")
    return {f"{section}.{key}": value for section, values in dumped.items() for key, value in values.items()}
