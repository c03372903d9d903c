"""A scripted saga for engine tests: each step's behaviour is data in the input.

Activities run outside the sandbox and write what they see to `JOURNAL`, so a test
can assert which actions and compensations ran, in which order, with which keys.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from temporal_sagas import (
    CompensationPolicy,
    NotInSagaActivityError,
    ProbeResult,
    Saga,
    StepOptions,
    current_step,
)

ActionMode = Literal[
    "ok",
    "fail",
    "fail_once",
    "timeout_after_effect",
    "timeout_no_effect",
    "block",
    "block_then_fail",
    "fail_fatal",
    "fail_until_fixed",
]
CompMode = Literal["ok", "fail", "none", "block", "fail_until_fixed"]


class StepScript(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    action: ActionMode = "ok"
    compensation: CompMode = "ok"
    pivot: bool = False
    compensate_on: Literal["attempt", "success"] = "attempt"
    local: bool = False
    sleep_before: float = 0.0
    probe: bool = False


class Script(BaseModel):
    model_config = ConfigDict(frozen=True)

    saga: str = "scripted"
    key: str | None = None
    steps: tuple[StepScript, ...]
    policy: CompensationPolicy = CompensationPolicy.SEQUENTIAL
    park_on_failure: bool = True
    abort_after: str | None = None
    wait_timeout_after: str | None = None
    hold_after: str | None = None
    audit_log: bool = True
    search_attributes: bool = True


class Call(BaseModel):
    model_config = ConfigDict(frozen=True)

    step: str
    mode: str


class Receipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    step: str
    key: str


class Outcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    receipts: tuple[Receipt, ...]


@dataclass(frozen=True)
class Entry:
    workflow_id: str
    step: str
    kind: str
    key: str
    step_key: str
    activity_id: str
    attempt: int
    outcome: str
    receipt_seen: bool | None = None
    local: bool = False


JOURNAL: list[Entry] = []
RELEASE: dict[str, asyncio.Event] = {}
FIXED: set[str] = set()


def entries(workflow_id: str, kind: str | None = None) -> list[Entry]:
    return [e for e in JOURNAL if e.workflow_id == workflow_id and kind in (None, e.kind)]


def done(workflow_id: str, kind: str) -> list[str]:
    """Steps whose action or compensation completed, in completion order."""
    return [e.step for e in entries(workflow_id, kind) if e.outcome == "ok"]


def release(workflow_id: str) -> None:
    RELEASE.setdefault(workflow_id, asyncio.Event()).set()


def _record(outcome: str, receipt_seen: bool | None = None) -> Entry:
    info = activity.info()
    try:
        ctx = current_step()
    except NotInSagaActivityError:  # a hand-written workflow called the activity
        kind = "action" if info.activity_type == "act" else "compensation"
        entry = Entry(
            info.workflow_id or "",
            "?",
            kind,
            "",
            "",
            info.activity_id,
            info.attempt,
            outcome,
            local=info.is_local,
        )
    else:
        entry = Entry(
            workflow_id=ctx.workflow_id,
            step=ctx.step,
            kind=ctx.kind,
            key=ctx.idempotency_key,
            step_key=ctx.step_key,
            activity_id=info.activity_id,
            attempt=info.attempt,
            outcome=outcome,
            receipt_seen=receipt_seen,
            local=info.is_local,
        )
    JOURNAL.append(entry)
    return entry


async def _block(workflow_id: str) -> None:
    event = RELEASE.setdefault(workflow_id, asyncio.Event())
    # A local activity cannot heartbeat (the SDK only logs a warning); its worker
    # cancels it directly.
    local = activity.info().is_local
    saw_shutdown = False
    while not event.is_set():
        if not local:
            activity.heartbeat()
        if activity.is_worker_shutdown() and not saw_shutdown:
            saw_shutdown = True
            _record("saw_shutdown")
        await asyncio.sleep(0.05)


@activity.defn
async def act(call: Call) -> Receipt:
    info = activity.info()
    if (
        call.mode == "fail"
        or (call.mode == "fail_once" and activity.info().attempt == 1)
        or (call.mode == "fail_until_fixed" and info.workflow_id not in FIXED)
    ):
        _record("failed")
        raise ApplicationError(f"{call.step} refused")
    if call.mode == "fail_fatal":
        _record("failed")
        raise ApplicationError(f"{call.step} refused for good", non_retryable=True)
    if call.mode == "timeout_after_effect":
        _record("ok")
        await asyncio.sleep(5)
    if call.mode == "timeout_no_effect":
        _record("timed out")
        await asyncio.sleep(5)
    if call.mode in ("block", "block_then_fail"):
        _record("blocked")
        await _block(info.workflow_id or "")
    if call.mode == "block_then_fail":
        _record("failed")
        raise ApplicationError(f"{call.step} refused after a wait", non_retryable=True)
    _record("ok")
    return Receipt(step=call.step, key=info.activity_id)


async def _undo(call: Call, receipt: Receipt | None) -> None:
    wid = activity.info().workflow_id or ""
    if call.mode == "fail" or (call.mode == "fail_until_fixed" and wid not in FIXED):
        _record("failed", receipt is not None)
        raise ApplicationError(f"undo {call.step} refused")
    if call.mode == "block":
        _record("blocked", receipt is not None)
        await _block(wid)
    _record("ok", receipt is not None)


FAST_RETRY = RetryPolicy(maximum_attempts=2, initial_interval=timedelta(milliseconds=20))
ACTION_OPTIONS = StepOptions(start_to_close_timeout=timedelta(seconds=10), retry_policy=FAST_RETRY)
TIMEOUT_OPTIONS = StepOptions(
    start_to_close_timeout=timedelta(seconds=1),
    retry_policy=RetryPolicy(maximum_attempts=1),
)
BLOCK_OPTIONS = StepOptions(
    start_to_close_timeout=timedelta(minutes=5), heartbeat_timeout=timedelta(seconds=2)
)


@activity.defn
async def probe_act(call: Call) -> ProbeResult:
    """Whether ``call``'s effect is there: an ``ok`` action under the key, not undone."""
    entry = _record("probed")
    done = any(e.kind == "action" and e.key == entry.key and e.outcome == "ok" for e in JOURNAL)
    undone = any(
        e.kind == "compensation" and e.step_key == entry.key and e.outcome == "ok" for e in JOURNAL
    )
    took = done and not undone
    receipt = Receipt(step=call.step, key=f"probed:{entry.key}") if took else None
    return ProbeResult(took_effect=took, result=receipt)


def _action_options(mode: str) -> StepOptions:
    if mode in ("timeout_after_effect", "timeout_no_effect"):
        return TIMEOUT_OPTIONS
    if mode in ("block", "block_then_fail"):
        return BLOCK_OPTIONS
    return ACTION_OPTIONS


@workflow.defn
class ScriptedSaga:
    @workflow.run
    async def run(self, script: Script) -> Outcome:
        saga = Saga(
            script.saga,
            key=script.key,
            policy=script.policy,
            park_on_failure=script.park_on_failure,
            audit_log=script.audit_log,
            search_attributes=script.search_attributes,
            action_options=ACTION_OPTIONS,
            compensation_options=StepOptions(
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(seconds=2),
                retry_policy=FAST_RETRY,
            ),
        )
        receipts: list[Receipt] = []
        async with saga:
            for step in script.steps:
                if step.sleep_before:
                    await saga.sleep(step.sleep_before)
                receipt = await saga.step(
                    step.name,
                    act,
                    Call(step=step.name, mode=step.action),
                    compensate=None
                    if step.compensation == "none"
                    else _undo_for(step.compensation),
                    compensate_on=step.compensate_on,
                    pivot=step.pivot,
                    local=step.local,
                    options=_action_options(step.action),
                    probe=probe_act if step.probe else None,
                )
                receipts.append(receipt)
                if script.abort_after == step.name:
                    saga.abort(f"told to stop after {step.name}")
                if script.wait_timeout_after == step.name:
                    await saga.wait_condition(lambda: False, timeout=0.5)
                if script.hold_after == step.name:
                    await saga.wait_condition(lambda: False)
        return Outcome(receipts=tuple(receipts))


def _undo_for(mode: str) -> object:
    # The compensation gets the action's argument; modes travel in a parallel Call.
    return _COMPENSATIONS[mode]


@activity.defn(name="undo_ok")
async def undo_ok(call: Call, receipt: Receipt | None) -> None:
    await _undo(Call(step=call.step, mode="ok"), receipt)


@activity.defn(name="undo_fail")
async def undo_fail(call: Call, receipt: Receipt | None) -> None:
    await _undo(Call(step=call.step, mode="fail"), receipt)


@activity.defn(name="undo_block")
async def undo_block(call: Call, receipt: Receipt | None) -> None:
    await _undo(Call(step=call.step, mode="block"), receipt)


@activity.defn(name="undo_flaky")
async def undo_flaky(call: Call, receipt: Receipt | None) -> None:
    await _undo(Call(step=call.step, mode="fail_until_fixed"), receipt)


_COMPENSATIONS = {
    "ok": undo_ok,
    "fail": undo_fail,
    "block": undo_block,
    "fail_until_fixed": undo_flaky,
}

ACTIVITIES = [act, undo_ok, undo_fail, undo_block, undo_flaky, probe_act]


# -- helpers for tests -----------------------------------------------------------------------

import uuid  # noqa: E402
from collections.abc import AsyncIterator, Sequence  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from typing import Any  # noqa: E402

from temporalio.client import Client, WorkflowHandle  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from temporal_sagas import SAGA_STATUS, OperatorKeys, SagaPlugin, SagaState, SagaStatus, saga_state  # noqa: E402


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def saga_worker(
    client: Client,
    task_queue: str,
    workflows: Sequence[type] = (ScriptedSaga,),
    **kwargs: Any,
) -> AsyncIterator[Worker]:
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=kwargs.pop("activities", ACTIVITIES),
        **kwargs,
    ) as worker:
        yield worker


@asynccontextmanager
async def keyed_worker(
    env: WorkflowEnvironment, task_queue: str, keys: OperatorKeys | None
) -> AsyncIterator[Client]:
    """A worker whose client carries ``SagaPlugin(operator_keys=keys)``, as a deployment would."""
    client = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        plugins=[SagaPlugin(operator_keys=keys)],
    )
    async with saga_worker(client, task_queue):
        yield client


async def start(
    client: Client, task_queue: str, script: Script, wid: str
) -> WorkflowHandle[Any, Outcome]:
    return await client.start_workflow(ScriptedSaga.run, script, id=wid, task_queue=task_queue)


async def wait_for(
    handle: WorkflowHandle[Any, Any], predicate: Any, *, polls: int = 600
) -> SagaState:
    """Poll the saga_state query until ``predicate(state)`` holds (bounded, not timed)."""
    state: SagaState | None = None
    for _ in range(polls):
        try:
            state = await saga_state(handle)
        except Exception:  # the first workflow task may not have run yet
            state = None
        if state is not None and predicate(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition never held; last state: {state}")


async def wait_for_status(handle: WorkflowHandle[Any, Any], status: SagaStatus) -> SagaState:
    return await wait_for(handle, lambda s: s.status is status)


async def search_status(handle: WorkflowHandle[Any, Any]) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(SAGA_STATUS)


async def task_failure_message(handle: WorkflowHandle[Any, Any], *, polls: int = 600) -> str:
    """Wait for a failed workflow task in the history and return its message."""
    for _ in range(polls):
        history = await handle.fetch_history()
        for event in history.events:
            if event.HasField("workflow_task_failed_event_attributes"):
                return str(event.workflow_task_failed_event_attributes.failure.message)
        await asyncio.sleep(0.05)
    raise AssertionError("the workflow task never failed")


async def wait_until(predicate: Any, *, polls: int = 600) -> None:
    """Wait (bounded) until a plain predicate holds, e.g. an activity reached the journal."""
    for _ in range(polls):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


# -- regular and local steps -----------------------------------------------------------------

import json  # noqa: E402

from temporalio.api.history.v1 import HistoryEvent  # noqa: E402

StepKind = Literal["activity", "local"]
#: The engine contract holds for both; the engine tests run once per kind.
STEP_KINDS: tuple[StepKind, ...] = ("activity", "local")
#: The marker the SDK records for each local activity execution.
LOCAL_MARKER = "core_local_activity"


def as_kind(script: Script, kind: StepKind) -> Script:
    """The same script with every step run as ``kind``."""
    local = kind == "local"
    steps = tuple(s.model_copy(update={"local": local}) for s in script.steps)
    return script.model_copy(update={"steps": steps})


def local_marker(event: HistoryEvent) -> dict[str, Any] | None:
    """The data of a local activity's marker (activity id, attempt, ...), else None."""
    if not event.HasField("marker_recorded_event_attributes"):
        return None
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != LOCAL_MARKER:
        return None
    data: dict[str, Any] = json.loads(marker.details["data"].payloads[0].data)
    return data


async def activity_ids(handle: WorkflowHandle[Any, Any]) -> list[tuple[StepKind, str]]:
    """Every activity the run's history shows, in order: (kind, activity id).

    A regular activity appears as its ActivityTaskScheduled event; a local one as
    the MarkerRecorded event the SDK writes once it has an outcome (no scheduled event).
    """
    found: list[tuple[StepKind, str]] = []
    for event in (await handle.fetch_history()).events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            found.append(("activity", event.activity_task_scheduled_event_attributes.activity_id))
        elif (marker := local_marker(event)) is not None:
            found.append(("local", str(marker["activity_id"])))
    return found


async def ran_as(handle: WorkflowHandle[Any, Any]) -> set[str]:
    """How the saga's activities ran, by the history and by the activities' own journal.

    ``{"local"}`` only if the history shows local-activity markers and no scheduled
    activity, and every journal entry was written by a local activity.
    """
    history = {kind for kind, _ in await activity_ids(handle)}
    journal = {"local" if e.local else "activity" for e in entries(handle.id)}
    return history | journal


async def event_types(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The run's history as event type names, e.g. ``WORKFLOW_EXECUTION_CANCELED``."""
    from temporalio.api.enums.v1 import EventType

    prefix = len("EVENT_TYPE_")
    return [EventType.Name(e.event_type)[prefix:] for e in (await handle.fetch_history()).events]
