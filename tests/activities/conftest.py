"""Fixtures for the idempotency tests: a scratch PostgreSQL database, stores, a fake clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from temporal_sagas.activities import IdempotencyStore, SQLiteStore
from temporal_sagas.postgres import PostgresStore
from tests.activities.postgres import scratch_database


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    with scratch_database() as dsn:
        yield dsn


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_store(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, clock: object = None
) -> IdempotencyStore:
    options = {} if clock is None else {"clock": clock}
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "keys.sqlite3", **options)  # type: ignore[arg-type]
    dsn = request.getfixturevalue("postgres_dsn")
    return PostgresStore(dsn, table=f"keys_{uuid.uuid4().hex[:8]}", max_size=8, **options)  # type: ignore[arg-type]


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[IdempotencyStore]:
    """Each contract test runs once per store, on a fresh table, with a fake clock."""
    the_store = make_store(request.param, request, tmp_path, clock)
    await the_store.open()
    try:
        yield the_store
    finally:
        await the_store.close()
