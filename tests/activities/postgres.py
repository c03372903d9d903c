"""A scratch PostgreSQL database for tests: created on entry, dropped on exit.

PostgreSQL runs at 127.0.0.1:5432 (trust auth, user postgres). When it is not
reachable the tests skip, except under CI (``CI=true``) where that is a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

HOST, PORT = "127.0.0.1", 5432
ADMIN_DSN = f"host={HOST} port={PORT} user=postgres dbname=postgres"


def _reachable() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> None:
    """Skip (fail under CI) when PostgreSQL is not reachable."""
    if _reachable():
        return
    reason = f"PostgreSQL is not reachable at {HOST}:{PORT} (trust auth, user postgres)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(f"{reason}; start it to run the PostgreSQL tests")


@contextmanager
def scratch_database() -> Iterator[str]:
    """Create a uniquely named database, yield its DSN, drop it afterwards."""
    require_postgres()
    name = f"sagas_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"host={HOST} port={PORT} user=postgres dbname={name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
