"""Connecting to a Dask cluster, only when asked: the default path never imports Dask."""

from __future__ import annotations

from typing import Any

from planalign_orchestrator.exceptions import ConfigurationError

INSTALL_HINT = 'pip install "planalign-notebook[distributed]"'


def require_dask() -> None:
    """ConfigurationError with the install command when the optional extra is missing."""
    try:
        import dask.distributed  # noqa: F401
    except ImportError as error:
        raise ConfigurationError(
            f"distributed ensembles need Dask, which is not installed ({error})",
            remediation=f"Install the optional extra: `{INSTALL_HINT}`, or run the ensemble in-process.",
        ) from error


def connect(address: str, *, timeout_seconds: float = 30.0) -> Any:
    """A dask.distributed.Client of the scheduler at `address` (e.g. tcp://10.0.0.5:8786)."""
    require_dask()
    from dask.distributed import Client

    try:
        return Client(address, timeout=f"{timeout_seconds}s")  # type: ignore[no-untyped-call]
    except OSError as error:
        raise ConfigurationError(
            f"could not reach the Dask scheduler at {address}: {error}",
            remediation="Check the address and that `dask scheduler` runs there "
            "(e.g. --scheduler tcp://HOST:8786), or run the ensemble without --scheduler.",
        ) from error
