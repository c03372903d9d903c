"""Processes the chaos suite starts, kills and restarts: a dev server and saga workers.

Every wait here is bounded; `stop` and `kill` are safe to call on a process that is
already gone, so ``finally`` blocks can always clean up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
from temporalio.client import Client
from temporalio.service import RPCError

from temporal_sagas import SagaPlugin
from temporal_sagas.workers import temporal_cli_path

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _end(proc: subprocess.Popen[bytes] | None, sig: signal.Signals, grace: float) -> bool:
    """Send ``sig`` and wait for the end; whether the process was alive to receive it."""
    if proc is None or proc.poll() is not None:
        return False
    try:
        os.kill(proc.pid, sig)
        if sig != signal.SIGKILL:  # a stopped process only takes SIGKILL at once
            os.kill(proc.pid, signal.SIGCONT)
    except ProcessLookupError:
        return False
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
    return True


class DevServer:
    """``temporal server start-dev`` on a fixed port over a persistent SQLite file."""

    def __init__(self, db_file: Path) -> None:
        self.db_file = db_file
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> Client:
        """Start the server (same port, same file) and return a client once it answers."""
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            [
                temporal_cli_path(),
                "server",
                "start-dev",
                "--db-filename",
                str(self.db_file),
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--headless",
                "--log-level",
                "error",
                "--search-attribute",
                "SagaName=Keyword",
                "--search-attribute",
                "SagaStatus=Keyword",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(240):
            if self.proc.poll() is not None:
                raise AssertionError(f"the dev server exited with {self.proc.returncode}")
            try:
                client = await Client.connect(self.address, plugins=[SagaPlugin()])
                await client.count_workflows()
                return client
            except (RuntimeError, RPCError):
                await asyncio.sleep(0.25)
        raise AssertionError(f"the dev server at {self.address} never answered")

    async def stop(self) -> bool:
        """Stop the server gracefully (SIGTERM), killing it if it lingers.

        Returns:
            Whether the server was running.
        """
        return await asyncio.to_thread(_end, self.proc, signal.SIGTERM, 30)

    async def kill(self) -> bool:
        """SIGKILL the server: no shutdown, whatever SQLite has not committed is lost.

        Returns:
            Whether the server was running (a kill that hit nothing is no fault).
        """
        return await asyncio.to_thread(_end, self.proc, signal.SIGKILL, 30)


class WorkerProcess:
    """One ``tests.chaos.worker`` process slot: started, SIGKILLed, started again."""

    def __init__(self, name: str, tmp: Path, args: list[str], workload: str = "transfers") -> None:
        self.name = name
        self.ready = tmp / f"{name}.ready"
        self.args = args
        self.workload = workload
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start a fresh process in this slot."""
        self.ready.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.chaos.worker",
                *self.args,
                str(self.ready),
                self.workload,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.starts += 1

    def alive(self) -> bool:
        """Whether the slot's process is running."""
        return self.proc is not None and self.proc.poll() is None

    async def wait_ready(self) -> None:
        """Wait (bounded) until the process polls its task queue."""
        for _ in range(400):
            if self.ready.exists():
                return
            if not self.alive():
                self.start()
            await asyncio.sleep(0.05)
        raise AssertionError("a chaos worker never became ready")

    def pid(self) -> int | None:
        """The live process's id, or None."""
        return self.proc.pid if self.proc is not None and self.alive() else None

    def runs(self, worker_identity: str) -> bool:
        """Whether ``worker_identity`` (the SDK's default, ``pid@host``) is this live process."""
        proc = self.proc
        return self.alive() and proc is not None and worker_identity.startswith(f"{proc.pid}@")

    async def sigkill(self) -> bool:
        """SIGKILL the process: no cleanup, in-flight tasks and transactions are lost.

        Returns:
            Whether the process was alive, so a kill is counted only when it hit.
        """
        return await asyncio.to_thread(_end, self.proc, signal.SIGKILL, 30)

    async def stop(self) -> bool:
        """SIGTERM the process: the worker flushes its audit queue and exits."""
        return await asyncio.to_thread(_end, self.proc, signal.SIGTERM, 10)

    async def pause(self, seconds: float) -> bool:
        """SIGSTOP the process for ``seconds``, then SIGCONT it.

        Paused longer than an activity's heartbeat timeout and the workflow task
        timeout, its tasks go to the other worker; resumed, it finishes them late
        (a zombie the inbox and the server must both refuse).

        Returns:
            Whether the process was alive to be paused.
        """
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return False
        try:
            os.kill(proc.pid, signal.SIGSTOP)
        except ProcessLookupError:
            return False
        try:
            await asyncio.sleep(seconds)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)
        return True


def terminate_backends(dsn: str) -> tuple[int, int]:
    """Kill every other PostgreSQL connection to ``dsn``'s database, mid-transaction or not.

    Returns:
        How many backends were terminated, and how many of them were inside a
        transaction or running a statement at that moment.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid), state <> 'idle' FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    killed = [busy for done, busy in rows if done]
    return len(killed), sum(1 for busy in killed if busy)
