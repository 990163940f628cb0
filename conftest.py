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
