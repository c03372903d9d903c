"""A tiny HTTP server for probes: ``/healthz`` (liveness) and ``/readyz`` (readiness).

It speaks just enough HTTP/1.1 for Kubernetes probes, load balancers and ``curl``;
no web framework is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class HealthServer:
    """Serve liveness and readiness on ``host:port`` while the worker runs.

    Args:
        address: ``host:port`` to listen on (port 0 picks a free one).
        ready: Called on each ``/readyz``; returns ``(ready, reason)``.
    """

    def __init__(self, address: str, ready: Callable[[], tuple[bool, str]]) -> None:
        host, _, port = address.rpartition(":")
        self._host = host.strip("[]")
        self._port = int(port)
        self._ready = ready
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Start listening.

        Raises:
            OSError: The address cannot be bound (in use, or not local).
        """
        self._server = await asyncio.start_server(self._handle, self._host, self._port)

    async def stop(self) -> None:
        """Stop listening and close the server."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def respond(self, method: str, path: str) -> tuple[int, dict[str, str]]:
        """The status and JSON body for one request."""
        path = path.split("?", 1)[0]
        if path not in ("/healthz", "/readyz", "/livez"):
            return 404, {"status": "not found", "paths": "/healthz /readyz"}
        if method not in ("GET", "HEAD"):
            return 405, {"status": "method not allowed"}
        if path == "/readyz":
            ready, reason = self._ready()
            return (200 if ready else 503), {
                "status": "ready" if ready else "not ready",
                "reason": reason,
            }
        return 200, {"status": "alive"}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed
            parts = request.decode("latin-1").split()
            method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("GET", "/")
            status, body = self.respond(method, path)
            payload = json.dumps(body).encode()
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            writer.write(head if method == "HEAD" else head + payload)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
