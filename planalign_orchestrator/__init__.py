"""PlanAlign engine: workspace, dbt runner, self-healing initialization and the year loop.

Importing this package must stay cheap (no dbt import): `planalign status` and the
notebook face load it on every start.
"""

__version__ = "0.1.0"

import logging as _logging

# A library never configures logging; faces (CLI, notebooks) attach their own handlers.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())
