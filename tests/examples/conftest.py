"""Fixtures shared by the example tests that need PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.activities.postgres import scratch_database

#: The variable every PostgreSQL-backed example reads its connection string from.
EXAMPLE_DSN_ENV = "SAGAS_EXAMPLE_DSN"


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    """A scratch database for the test module, also named by ``SAGAS_EXAMPLE_DSN``.

    Business keys (and so idempotency keys) are unique per test, so a module's tests
    share it; it is dropped when the module is done.
    """
    with scratch_database() as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv(EXAMPLE_DSN_ENV, url)
        yield url
