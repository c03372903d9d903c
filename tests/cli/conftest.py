"""Fixtures for the CLI tests."""

from collections.abc import Iterator

import pytest

from tests.testing.recorded import v1_compensated, v1_completed
from tests.workers.procs import WorkerProcess

__all__ = ["v1_compensated", "v1_completed", "worker_procs"]


@pytest.fixture
def worker_procs() -> Iterator[list[WorkerProcess]]:
    """`sagas worker` processes a test started; each is killed after the test."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
