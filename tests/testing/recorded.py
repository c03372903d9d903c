"""Fixtures recording histories of the v1 mutation saga, once per session (import them)."""

from __future__ import annotations

import contextlib
import uuid

import pytest_asyncio
from temporalio.client import WorkflowFailureError, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.testing.mutation_sagas import ACTIVITIES, V1, Order


async def _record(env: WorkflowEnvironment, fail_at: str | None) -> WorkflowHistory:
    task_queue = f"mutation-{uuid.uuid4().hex[:8]}"
    wid = f"mutation-{fail_at or 'ok'}-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[V1], activities=ACTIVITIES):
        handle = await env.client.start_workflow(
            V1.run, Order(key=wid, fail_at=fail_at), id=wid, task_queue=task_queue
        )
        with contextlib.suppress(WorkflowFailureError):
            await handle.result()
        return await handle.fetch_history()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def v1_completed(saga_env: WorkflowEnvironment) -> WorkflowHistory:
    """A v1 run that completed all three steps."""
    return await _record(saga_env, None)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def v1_compensated(saga_env: WorkflowEnvironment) -> WorkflowHistory:
    """A v1 run whose step c failed, so c, b and a were compensated."""
    return await _record(saga_env, "c")
