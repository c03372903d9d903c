"""pytest plugin (entry point ``temporal_sagas``): Temporal servers and task queues for saga tests.

Fixtures:
    saga_env: the time-skipping test server, one per session.
    saga_dev_env: the local dev server (in memory), one per session.
    saga_task_queue: a fresh task queue name for each test.

Both environments' clients carry `SagaPlugin`, and their namespaces know the
``SagaName`` and ``SagaStatus`` search attributes. The fixtures are session
scoped, so tests using them need the session event loop; set
``asyncio_default_test_loop_scope = "session"`` (and the fixture equivalent).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from temporal_sagas.testing._environments import start_dev_server_env, start_time_skipping_env


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def saga_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, with `SagaPlugin` on its client."""
    env = await start_time_skipping_env()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def saga_dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The local Temporal dev server, with `SagaPlugin` on its client."""
    env = await start_dev_server_env()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def saga_task_queue(request: pytest.FixtureRequest) -> str:
    """A task queue name no other test uses."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"
