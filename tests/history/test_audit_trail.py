"""Acceptance: emitted audit events equal the history-derived trail, once each, replay-safe."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from temporal_sagas import SagaPlugin, SagaStatus, saga_state
from temporal_sagas.history import audit_trail, saga_state_from_history
from tests.history.audit_support import audit_logging, closed_history, same_events
from tests.sagas import (
    Script,
    ScriptedSaga,
    StepScript,
    entries,
    new_id,
    release,
    saga_worker,
    start,
    wait_until,
)

COMPLETED = Script(
    steps=(
        StepScript(name="reserve"),
        StepScript(name="charge", pivot=True, compensation="none"),
        StepScript(name="notify", compensation="none"),
    )
)
COMPENSATED = Script(
    steps=(
        StepScript(name="reserve"),
        StepScript(name="charge", compensate_on="success"),
        StepScript(name="ship", action="fail"),
    )
)


@pytest.mark.parametrize(
    ("script", "status"),
    [(COMPLETED, SagaStatus.COMPLETED), (COMPENSATED, SagaStatus.COMPENSATED)],
    ids=["completed", "compensated"],
)
async def test_forced_replays_emit_every_event_once_equal_to_the_history_trail(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    tmp_path: Path,
    script: Script,
    status: SagaStatus,
) -> None:
    client, wid = saga_dev_env.client, new_id("audit-replay")
    with audit_logging(tmp_path / "audit.jsonl") as captured:
        async with saga_worker(client, saga_task_queue, max_cached_workflows=0):
            handle = await start(client, saga_task_queue, script, wid)
            history = await closed_history(handle)
            live = await saga_state(handle)

    trail = audit_trail(history)
    assert [e.kind.value for e in trail] == [e.kind.value for e in live.timeline]
    assert [e.event_id for e in live.timeline] == [e.event_id for e in trail]
    same_events(captured.sunk(), trail)
    logged = [line["event_id"] for line in captured.audit_lines()]
    assert logged == [e.event_id for e in trail]


async def test_audit_events_are_logged_by_the_writer_thread_not_the_workflow_thread(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    client, wid = saga_dev_env.client, new_id("audit-thread")
    with audit_logging(tmp_path / "audit.jsonl") as captured:
        async with saga_worker(client, saga_task_queue):
            await closed_history(await start(client, saga_task_queue, COMPENSATED, wid))
        logged = captured.audit_lines()

    assert [line["workflow_id"] for line in logged] == [wid] * len(logged)
    assert len(logged) == len(captured.threads) > 0
    assert set(captured.threads) == {"saga-audit-writer"}


async def test_without_the_audit_log_nothing_is_logged_yet_history_gives_the_trail(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    client, wid = saga_dev_env.client, new_id("audit-off")
    script = COMPENSATED.model_copy(update={"audit_log": False})
    with audit_logging(tmp_path / "audit.jsonl") as captured:
        async with saga_worker(client, saga_task_queue):
            handle = await start(client, saga_task_queue, script, wid)
            history = await closed_history(handle)
            live = await saga_state(handle)

    assert captured.audit_lines() == []
    assert captured.sunk() == []
    assert live.status is SagaStatus.COMPENSATED
    trail = audit_trail(history)
    assert [(e.event_id, e.kind) for e in trail] == [(e.event_id, e.kind) for e in live.timeline]
    assert [e.prev_hash for e in trail[1:]] == [e.hash for e in trail[:-1]]


async def test_replaying_a_history_emits_nothing(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    client, wid = saga_dev_env.client, new_id("audit-replayer")
    script = Script(steps=(StepScript(name="reserve"), StepScript(name="charge", action="block")))
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, script, wid)
        await wait_until(lambda: any(e.step == "charge" for e in entries(wid)))
        running = await handle.fetch_history()
        release(wid)
        closed = await closed_history(handle)

    with audit_logging(tmp_path / "audit.jsonl") as captured:
        replayer = Replayer(workflows=[ScriptedSaga], plugins=[SagaPlugin()])
        await replayer.replay_workflow(running)
        await replayer.replay_workflow(closed)

    assert captured.audit_lines() == []
    assert captured.sunk() == []


async def test_audit_adds_no_events_to_the_history(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("audit-count")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, COMPLETED, wid)
        history = await closed_history(handle)

    types = Counter(
        EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events
    )
    # Counted by hand for 3 activity steps: started + completed, one workflow task per
    # step result plus the first (4 x scheduled/started/completed), 3 x activity
    # scheduled/started/completed, and the status upserts (SagaName + RUNNING at start,
    # as the starter set none, then COMPLETED). Nothing else: no markers, signals or
    # extra activities, although 8 audit events were emitted.
    assert types == Counter(
        {
            "WORKFLOW_EXECUTION_STARTED": 1,
            "WORKFLOW_TASK_SCHEDULED": 4,
            "WORKFLOW_TASK_STARTED": 4,
            "WORKFLOW_TASK_COMPLETED": 4,
            "ACTIVITY_TASK_SCHEDULED": 3,
            "ACTIVITY_TASK_STARTED": 3,
            "ACTIVITY_TASK_COMPLETED": 3,
            "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES": 2,
            "WORKFLOW_EXECUTION_COMPLETED": 1,
        }
    )
    assert len(history.events) == 25
    assert len(audit_trail(history)) == 8


async def test_live_query_and_history_agree_on_event_ids_after_forced_replay(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, wid = saga_dev_env.client, new_id("audit-ids")
    async with saga_worker(client, saga_task_queue, max_cached_workflows=0):
        handle = await start(client, saga_task_queue, COMPENSATED, wid)
        rebuilt = saga_state_from_history(await closed_history(handle))
        live = await saga_state(handle)

    assert live.timeline == rebuilt.timeline
    ids = [e.event_id for e in live.timeline]
    assert all(i and i.startswith(f"{live.run_id}/") for i in ids)
    assert len(set(ids)) == len(ids)
