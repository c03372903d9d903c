"""Running ``sagas`` in a real subprocess, its address space capped and its peak memory read."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

#: A runaway child is stopped here rather than taking the machine with it.
ADDRESS_SPACE_CAP = 1 << 30


@dataclass(frozen=True)
class Finished:
    """How a ``sagas`` process ended."""

    code: int
    stdout: str
    stderr: str
    max_rss_mb: float


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))


def run_sagas(tmp_path: Path, *args: str, timeout: float = 120) -> Finished:
    """Run ``python -m temporal_sagas.cli ARGS``; its own peak RSS comes from wait4."""
    out, err = tmp_path / "sagas.stdout", tmp_path / "sagas.stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "temporal_sagas.cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=_cap_address_space,
        )
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            watchdog.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Finished(
        code=process.returncode,
        stdout=out.read_text(errors="replace"),
        stderr=err.read_text(errors="replace"),
        max_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
    )


def assert_refused_history_file(run: Finished, path: Path) -> None:
    """``run`` refused the history file at ``path`` in one line, no traceback, under 200 MB."""
    assert run.code == 1
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert run.stderr.startswith(f"error: history file {str(path)!r}")
    assert "Traceback" not in run.stderr + run.stdout
    assert run.max_rss_mb < 200
