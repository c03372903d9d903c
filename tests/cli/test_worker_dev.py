"""`sagas dev`: a dev server with a persistent file and the Web UI, plus a worker."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from temporalio.client import Client

from temporal_sagas import SagaPlugin
from tests.sagas import Script, StepScript, new_id, start
from tests.workers.procs import free_port, http_get, sagas


async def _wait_for_line(log: Path, text: str) -> None:
    for _ in range(600):
        if text in _read(log):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{text!r} never printed:\n{_read(log)}")


def _read(log: Path) -> str:
    return log.read_text(errors="replace")


async def test_dev_runs_server_ui_and_worker_then_stops_both(tmp_path: Path) -> None:
    port, ui_port = free_port(), free_port()
    db = tmp_path / ".sagas" / "temporal.db"
    log = tmp_path / "dev.log"
    process = sagas(
        "dev",
        "--app",
        "tests.workers.app:app",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--db-filename",
        str(db),
        "--health-address",
        f"127.0.0.1:{free_port()}",
        "--log-format",
        "json",
        log=log,
    )
    try:
        await _wait_for_line(log, f"Web UI: http://localhost:{ui_port}")
        await _wait_for_line(log, "worker starting")
        client = await Client.connect(f"127.0.0.1:{port}", plugins=[SagaPlugin()])
        handle = await start(
            client, "workers-tests", Script(steps=(StepScript(name="a"),)), new_id("dev")
        )
        outcome = await handle.result()
        ui_status, _ = await asyncio.to_thread(http_get, f"http://localhost:{ui_port}/")

        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 60)
    finally:
        if process.poll() is None:
            process.kill()

    assert [r.step for r in outcome.receipts] == ["a"]
    assert ui_status == 200
    assert code == 0, _read(log)
    assert db.is_file()
    with_server_gone = await asyncio.to_thread(_port_closed, port)
    assert with_server_gone


def _port_closed(port: int) -> bool:
    import socket
    import time

    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.05)
    return False
