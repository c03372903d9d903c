"""The health server answers probes and stays within fixed limits against slow or greedy clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from temporal_sagas.workers import HealthServer, _health


@pytest_asyncio.fixture
async def server() -> AsyncIterator[HealthServer]:
    health = HealthServer("127.0.0.1:0", lambda: (False, "connecting"))
    await health.start()
    yield health
    await health.stop()


async def _exchange(port: int, request: bytes) -> tuple[int, dict[str, str]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body) if body else {}


async def test_health_and_readiness_answer(server: HealthServer) -> None:
    assert await _exchange(server.port, b"GET /healthz HTTP/1.1\r\n\r\n") == (
        200,
        {"status": "alive"},
    )
    assert await _exchange(server.port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n") == (
        503,
        {"status": "not ready", "reason": "connecting"},
    )


async def test_a_request_that_never_ends_is_cut_off_at_the_deadline(
    server: HealthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_health, "REQUEST_DEADLINE_SECONDS", 0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nX-Slow: 1\r\n")  # no blank line: never ends

    left = await asyncio.wait_for(reader.read(), 10)  # bounded: the server must close first

    assert left == b""
    writer.close()


async def test_connections_beyond_the_cap_are_refused_at_once(
    server: HealthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_health, "MAX_CONNECTIONS", 2)
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
    await asyncio.sleep(0.1)  # let the server accept them

    refused = await _exchange(server.port, b"GET /healthz HTTP/1.1\r\n\r\n")
    for _, writer in idle:
        writer.close()
    await asyncio.sleep(0.1)
    served = await _exchange(server.port, b"GET /healthz HTTP/1.1\r\n\r\n")

    assert refused == (503, {"status": "busy"})
    assert served[0] == 200


async def test_a_request_with_too_many_header_lines_is_refused(server: HealthServer) -> None:
    headers = b"".join(b"X-%d: 1\r\n" % n for n in range(_health.MAX_HEADER_LINES + 5))

    status, body = await _exchange(server.port, b"GET /healthz HTTP/1.1\r\n" + headers + b"\r\n")

    assert (status, body) == (431, {"status": "request head too large"})
