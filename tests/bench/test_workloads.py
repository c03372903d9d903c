"""The benchmark's baselines do the same work as the engine they are compared with."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.workloads import (
    FrameworkSaga,
    HandWrittenAuditedSaga,
    HandWrittenSagaWithHeaders,
    Order,
    do_step,
    undo_step,
)
from temporal_sagas import start_saga
from temporal_sagas._contract import STEP_HEADER
from tests.history.audit_support import audit_logging
from tests.sagas import new_id


async def _run(client: Client, queue: str, workflow: Any, fail_at: int | None) -> tuple[str, int]:
    key = new_id(workflow.__name__)
    handle = await start_saga(
        client,
        workflow.run,
        Order(key=key, fail_at=fail_at),
        id=key,
        task_queue=queue,
        saga_name="bench",
    )
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    return key, len((await handle.fetch_history()).events)


@pytest.mark.parametrize("fail_at", [None, 2], ids=["happy", "compensating"])
async def test_audited_hand_written_saga_logs_and_upserts_what_the_default_engine_does(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path, fail_at: int | None
) -> None:
    client = saga_dev_env.client
    with audit_logging(tmp_path / "audit.jsonl") as captured:
        async with Worker(
            client,
            task_queue=saga_task_queue,
            workflows=[FrameworkSaga, HandWrittenAuditedSaga],
            activities=[do_step, undo_step],
        ):
            hand_key, hand_events = await _run(
                client, saga_task_queue, HandWrittenAuditedSaga, fail_at
            )
            engine_key, engine_events = await _run(client, saga_task_queue, FrameworkSaga, fail_at)
        lines = captured.audit_lines()

    def trail(key: str) -> list[tuple[str, str | None, str | None, frozenset[str]]]:
        mine = [line for line in lines if line["saga_key"] == key]
        return [(line["kind"], line["step"], line["status"], frozenset(line)) for line in mine]

    assert trail(hand_key) == trail(engine_key)
    assert len(trail(engine_key)) == (14 if fail_at is not None else 8)
    # Same activities, same status upserts: the histories are the same length.
    assert hand_events == engine_events
    # Both trails parse as audit events (the JSONL sink validates every line).
    assert {event.saga_key for event in captured.sunk()} == {hand_key, engine_key}


async def _scheduled(
    client: Client, queue: str, workflow: Any, fail_at: int | None
) -> tuple[list[tuple[str, str, bytes]], int]:
    """(activity type, id, step header) of each activity, the key written as K; event count."""
    key = new_id(workflow.__name__)
    handle = await client.start_workflow(
        workflow.run, Order(key=key, fail_at=fail_at, lean=True), id=key, task_queue=queue
    )
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    history = await handle.fetch_history()
    scheduled = [
        (
            attrs.activity_type.name,
            attrs.activity_id.replace(key, "K"),
            attrs.header.fields[STEP_HEADER].data.replace(key.encode(), b"K"),
        )
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        for attrs in [event.activity_task_scheduled_event_attributes]
    ]
    return scheduled, len(history.events)


@pytest.mark.parametrize("fail_at", [None, 2], ids=["happy", "compensating"])
async def test_hand_written_saga_with_headers_carries_the_lean_engines_ids_and_headers(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, fail_at: int | None
) -> None:
    client = saga_dev_env.client
    async with Worker(
        client,
        task_queue=saga_task_queue,
        workflows=[FrameworkSaga, HandWrittenSagaWithHeaders],
        activities=[do_step, undo_step],
    ):
        engine, engine_events = await _scheduled(client, saga_task_queue, FrameworkSaga, fail_at)
        hand, hand_events = await _scheduled(
            client, saga_task_queue, HandWrittenSagaWithHeaders, fail_at
        )

    assert hand == engine
    assert len(engine) == (6 if fail_at is not None else 3)
    assert hand_events == engine_events
