"""The environment every pytest run needs, whatever it collects: tests/, notebooks/ or one notebook.

It lives at the rootdir because pytest always loads this file, while tests/conftest.py
is loaded only when tests/ is collected: `pytest notebooks` alone used to run the
kernels without it and compare records with seconds against records made without.
Fixtures stay in tests/conftest.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from planalign_nb.rendering import RECORD_TIMINGS_ENV

_CACHE_ENV = "XDG_CACHE_HOME"
# The notebooks' records are compared by nbval, so they are made, as the shipped ones
# were (tools/execute_notebooks.py), without seconds. Tests of the timings turn them on.
TEST_ENVIRONMENT = {RECORD_TIMINGS_ENV: "0"}


def pytest_configure(config: pytest.Config) -> None:
    """Keep dbt's saved parse (and any other per-user cache) out of the user's home; records without seconds.

    Tests build many throwaway copies of the dbt project; each would leave its saved
    parse in ~/.cache/planalign. Subprocesses and notebook kernels inherit this too.
    """
    cache = tempfile.mkdtemp(prefix="planalign-test-cache-")
    config._planalign_cache = cache  # type: ignore[attr-defined]
    overrides = {_CACHE_ENV: cache, **TEST_ENVIRONMENT}
    config._planalign_previous_env = {name: os.environ.get(name) for name in overrides}  # type: ignore[attr-defined]
    os.environ.update(overrides)


def pytest_unconfigure(config: pytest.Config) -> None:
    cache = getattr(config, "_planalign_cache", None)
    if cache is None:
        return
    for name, previous in config._planalign_previous_env.items():  # type: ignore[attr-defined]
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
    shutil.rmtree(cache, ignore_errors=True)


# -- how pytest-xdist shares the tests out (`--dist loadfile --no-loadscope-reorder`) ----------

# Files whose tests are each a unit of their own: minutes long each, sharing nothing
# with their neighbours but session fixtures every worker can build.
SPREAD_FILES = frozenset({"tests/browser/test_notebooks_reopen_in_jupyterlab.py"})


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """One worker more than the cores this process may run on (`--maxprocesses` caps it).

    A worker spends about a fifth of its time waiting on other processes: a `planalign`
    subprocess starting, a notebook kernel, JupyterLab and the browser, a lock another
    process holds. A third worker on two cores runs in that time (measured on a 2-core
    machine: 1.6 cores busy on average with two workers).
    """
    return len(os.sched_getaffinity(0)) + 1


def _cost_rank(item: pytest.Item, rootpath: Path) -> int:
    """0: a spread file; 1: a notebook's cells; 2: a file running dbt; 3: the rest."""
    if item.path.relative_to(rootpath).as_posix() in SPREAD_FILES:
        return 0
    if item.path.suffix == ".ipynb":
        return 1
    return 2 if item.get_closest_marker("dbt") is not None else 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long kinds of file first, so the last units a worker is handed are short ones.

    A file's tests keep their order and stay together (module fixtures are set up once).
    Every worker collects and sorts alike; xdist hands the files out in this order.
    """
    rank: dict[Path, int] = {}
    for item in items:
        rank[item.path] = min(rank.get(item.path, 3), _cost_rank(item, config.rootpath))
    items.sort(key=lambda item: rank[item.path])  # stable


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, except that the tests of SPREAD_FILES go to whichever worker is free, one by one.

    A notebook's cells share one kernel and a file's tests its module and session
    fixtures, so a file runs on one worker; a spread file would otherwise hold one
    worker for its whole length while the other idles. (xdist's own `loadgroup` cannot
    do this under pytest 9: it renames items in a way pytest no longer reads.)
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesAndSpreadTests(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if path in SPREAD_FILES else path

    return FilesAndSpreadTests(config, log)
