"""`sagas demo`, run as a user runs it: a separate process, on its own dev server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def demo_run() -> subprocess.CompletedProcess[str]:
    # The timeout only stops a hung run from blocking the suite; nothing asserts on it.
    return subprocess.run(
        [sys.executable, "-m", "temporal_sagas.cli", "demo"],
        capture_output=True,
        env={**os.environ, "COLUMNS": "160"},  # keep rich from wrapping words across lines
        text=True,
        timeout=300,
        check=False,
    )


def test_demo_exits_zero(demo_run: subprocess.CompletedProcess[str]) -> None:
    assert demo_run.returncode == 0, demo_run.stderr


def test_demo_shows_a_completed_and_a_compensated_saga(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    assert "COMPLETED" in demo_run.stdout
    assert "COMPENSATED" in demo_run.stdout


def test_demo_prints_no_traceback(demo_run: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in demo_run.stdout + demo_run.stderr


def test_demo_points_to_sagas_dev_for_the_web_ui(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    assert "sagas dev" in demo_run.stdout
    assert "http://localhost:8233" in demo_run.stdout
