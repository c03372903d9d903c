"""The ``temporal server start-dev`` child process behind ``sagas dev``."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from temporal_sagas._contract import SAGA_SEARCH_ATTRIBUTES
from temporal_sagas._errors import SagaError

#: How long the dev server may take to accept connections.
READY_TIMEOUT_SECONDS = 30.0
#: How long it gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT_SECONDS = 10.0


class DevServerError(SagaError):
    """The dev server could not be started."""


class DevServer:
    """A dev server on localhost with a persistent SQLite file and the Web UI.

    Args:
        port: The gRPC port.
        ui_port: The Web UI port.
        db_filename: The SQLite file; its directory is created.
    """

    def __init__(self, *, port: int, ui_port: int, db_filename: Path) -> None:
        self.port = port
        self.ui_port = ui_port
        self.db_filename = db_filename
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def ui_url(self) -> str:
        """Where the Web UI answers."""
        return f"http://localhost:{self.ui_port}"

    def command(self) -> list[str]:
        """The command line of the server."""
        from temporal_sagas.workers import temporal_cli_path

        args = [
            temporal_cli_path(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_filename),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "error",
        ]
        for key in SAGA_SEARCH_ATTRIBUTES:
            args += ["--search-attribute", f"{key.name}=Keyword"]
        return args

    def start(self) -> None:
        """Start the server in its own session, so Ctrl-C reaches only ``sagas dev``.

        Raises:
            DevServerError: The port is taken.
        """
        if _port_open(self.port):
            raise DevServerError(
                f"port {self.port} is already in use: is another Temporal server running? "
                "Stop it or pass --port"
            )
        self.db_filename.parent.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            self.command(),
            stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_until_ready(self) -> None:
        """Wait until the server accepts connections.

        Raises:
            DevServerError: It exited, or did not answer in time.
        """
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise DevServerError(
                    f"the Temporal dev server exited with code {self._process.returncode}; "
                    f"its log is above (data file {self.db_filename})"
                )
            if _port_open(self.port):
                return
            time.sleep(0.05)
        raise DevServerError(
            f"the Temporal dev server did not answer on port {self.port} "
            f"within {READY_TIMEOUT_SECONDS:.0f} s"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0
