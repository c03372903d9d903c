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
