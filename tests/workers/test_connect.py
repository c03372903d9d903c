"""Connecting a worker: a server that is starting is waited for, a wrong one is not."""

from __future__ import annotations

from typing import Any

import pytest

from temporal_sagas.workers._connect import connect_when_serving

#: What the SDK raised when `sagas dev` connected to a dev server whose port was open
#: but whose frontend was not serving yet.
NOT_SERVING_YET = (
    "Failed client connect: `get_system_info` call error after connection: Status { code: "
    'Unavailable, message: "Frontend is not healthy yet", metadata: MetadataMap { headers: '
    '{"content-type": "application/grpc"} }, source: None }'
)
REFUSED = (
    "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
    'ConnectError(ConnectError("tcp connect error", Os { code: 111, kind: '
    'ConnectionRefused, message: "Connection refused" })))'
)


def _server(failures: list[str]) -> tuple[Any, list[int]]:
    """An attempt that fails with ``failures`` in turn, then connects; and its call count."""
    calls: list[int] = []
    client = object()

    async def attempt() -> Any:
        calls.append(1)
        if len(calls) <= len(failures):
            raise RuntimeError(failures[len(calls) - 1])
        return client

    return attempt, calls


async def test_a_server_not_serving_yet_is_tried_again_until_it_serves() -> None:
    attempt, calls = _server([NOT_SERVING_YET, NOT_SERVING_YET])

    client = await connect_when_serving(attempt)

    assert client is not None
    assert len(calls) == 3


async def test_a_refused_connection_fails_at_once() -> None:
    attempt, calls = _server([REFUSED])

    with pytest.raises(RuntimeError, match="Connection refused"):
        await connect_when_serving(attempt)
    assert len(calls) == 1
