"""Tests that run real benchmark rounds stay out of `make test`.

Such a test starts dev servers and workers of its own and runs the harness for real: too
slow and too heavy for every test run, and nothing a change to the engine needs. It is
marked ``bench`` and runs only with ``--run-bench`` or ``SAGAS_RUN_BENCH=1``; `make bench`
runs it first, as a smoke check of the harness. The tests of the harness's arithmetic
(pairing, pooling, ratios) and of the baselines' equivalence with the engine always run.
"""

from __future__ import annotations

import os

import pytest


def bench_enabled(config: pytest.Config) -> bool:
    """Whether this session runs the ``bench``-marked tests."""
    return bool(config.getoption("--run-bench")) or os.environ.get("SAGAS_RUN_BENCH") == "1"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("bench") is not None and not bench_enabled(item.config):
        pytest.skip("runs real benchmark rounds: pass --run-bench or set SAGAS_RUN_BENCH=1")
