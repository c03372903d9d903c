"""A tiny HTTP server for probes: ``/healthz`` (liveness) and ``/readyz`` (readiness).

It speaks just enough HTTP/1.1 for Kubernetes probes, load balancers and ``curl``;
no web framework is needed. It defends itself within fixed limits: at most
`MAX_CONNECTIONS` open at once (more are answered 503 and closed at once), a whole
request must arrive within `REQUEST_DEADLINE_SECONDS`, and at most `MAX_HEADER_LINES`
header lines of at most `MAX_LINE_BYTES` each are read. Bind it to a local address
(``127.0.0.1:8081``) unless a probe on another host needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

_REASONS = {
    200: "OK",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}

#: Connections served at once; more are answered 503 at once.
MAX_CONNECTIONS = 16
#: Seconds a client has to send its whole request.
REQUEST_DEADLINE_SECONDS = 5.0
#: Header lines read before the request is refused (431).
MAX_HEADER_LINES = 64
#: Bytes in one request or header line.
MAX_LINE_BYTES = 8192


class _TooLarge(Exception):
    """The request's head is longer than the limits allow."""


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
        self._open = 0

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
        self._server = await asyncio.start_server(
            self._handle, self._host, self._port, limit=MAX_LINE_BYTES
        )

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
        self._open += 1
        try:
            if self._open > MAX_CONNECTIONS:
                # Take what the client already sent (briefly), so closing the socket
                # does not reset the connection before it reads the answer.
                with contextlib.suppress(TimeoutError, ValueError):
                    await asyncio.wait_for(reader.read(MAX_LINE_BYTES), 0.05)
                await _send(writer, "GET", 503, {"status": "busy"})
                return
            try:
                async with asyncio.timeout(REQUEST_DEADLINE_SECONDS):
                    method, path = await _read_head(reader)
            except _TooLarge:
                await _send(writer, "GET", 431, {"status": "request head too large"})
                return
            status, body = self.respond(method, path)
            await _send(writer, method, status, body)
        except (TimeoutError, ConnectionError, UnicodeError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            self._open -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, str]:
    """The request's method and path; its headers are read (within limits) and dropped."""
    request = await reader.readline()
    for _ in range(MAX_HEADER_LINES):
        if await reader.readline() in (b"\r\n", b"\n", b""):
            break
    else:
        raise _TooLarge
    parts = request.decode("latin-1").split()
    return (parts[0], parts[1]) if len(parts) >= 2 else ("GET", "/")


async def _send(
    writer: asyncio.StreamWriter, method: str, status: int, body: dict[str, str]
) -> None:
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    writer.write(head if method == "HEAD" else head + payload)
    await writer.drain()
