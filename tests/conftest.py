"""Suite-wide set-up. The server fixtures come from the temporal_sagas pytest plugin.

The plugin is opt-in (installing the package loads nothing into other projects'
pytest sessions); this suite asks for it here, as a user's conftest.py would.
"""

from __future__ import annotations

import os
import sys

import pytest

pytest_plugins = ["temporal_sagas.testing.plugin"]

_exit_status: list[int] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    # Declared here, not in tests/bench/conftest.py: pytest only reads options from the
    # conftests it loads before collecting, and that one is not among them for every path.
    parser.addoption(
        "--run-bench",
        action="store_true",
        help="also run the tests marked `bench`, which run real benchmark rounds "
        "(or set SAGAS_RUN_BENCH=1)",
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # The SDK's Rust runtime can abort the interpreter at exit (code 134) after every
    # test passed; leave with pytest's own status once its summary is printed.
    if _exit_status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
