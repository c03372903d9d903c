"""Start `sagas worker` as a real subprocess and watch it from the test."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    health_port: int

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def ready(self, *, polls: int = 600) -> None:
        """Wait (bounded) until /readyz says the worker polls."""
        url = f"http://127.0.0.1:{self.health_port}/readyz"
        for _ in range(polls):
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.output}")
            try:
                status, _ = await asyncio.to_thread(http_get, url)
            except OSError:
                status = 0
            if status == 200:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"worker never became ready:\n{self.output}")

    async def wait(self, *, polls: int = 1200) -> int:
        """Wait (bounded) for the process to exit; return its code."""
        for _ in range(polls):
            code = self.process.poll()
            if code is not None:
                return code
            await asyncio.sleep(0.05)
        self.process.kill()
        raise AssertionError(f"worker did not exit:\n{self.output}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def sagas(*args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`python -m temporal_sagas.cli ARGS`, from the repository root, logging to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "temporal_sagas.cli", *args],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )


def start_worker(
    address: str,
    task_queue: str,
    tmp: Path,
    *extra: str,
    app: str = "tests.workers.app:app",
    env: dict[str, str] | None = None,
) -> WorkerProcess:
    health = free_port()
    log = tmp / f"worker-{health}.log"
    process = sagas(
        "worker",
        "--app",
        app,
        "--address",
        address,
        "--task-queue",
        task_queue,
        "--health-address",
        f"127.0.0.1:{health}",
        "--log-format",
        "json",
        *extra,
        log=log,
        env=env,
    )
    return WorkerProcess(process=process, log=log, health_port=health)


__all__ = ["REPO", "WorkerProcess", "free_port", "http_get", "sagas", "signal", "start_worker"]
