"""Helpers for the test suite: shared assertions and scripts that subprocesses run."""
