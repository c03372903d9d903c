"""Rescue as a library: find sagas closed with compensations due, start their rescue.

`sagas rescue` and `SagaSweeper` (a loop a worker can host) both come here. A rescue
starts at most once per saga run: its workflow id derives from the run
(`temporal_sagas._contract.rescue_workflow_id`) and a second start is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client, WorkflowHistory
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from temporal_sagas._contract import SAGA_STATUS, rescue_workflow_id
from temporal_sagas._errors import SagaNotFoundError
from temporal_sagas.history import SagaHistoryError, rescue_plan
from temporal_sagas.workers._codec import decode_history
from temporal_sagas.workflows._rescue import RescuePlan, SagaRescue

_log = structlog.get_logger("temporal_sagas.rescue")

#: Sagas that closed while their status still said compensations may be due.
RESCUE_QUERY = (
    "ExecutionStatus IN ('Terminated', 'TimedOut') "
    "AND SagaStatus IN ('RUNNING', 'COMPENSATING', 'NEEDS_ATTENTION')"
)

#: The statuses a saga can be stuck in: still moving, or waiting for an operator.
STUCK_STATUSES = ("RUNNING", "COMPENSATING", "NEEDS_ATTENTION")


@dataclass(frozen=True)
class RescueOutcome:
    """What `rescue` did for one saga run.

    Attributes:
        workflow_id: The saga.
        run_id: The run looked at.
        plan: The compensations due (None: nothing to rescue).
        rescue_id: The rescue workflow's id, when there is a plan.
        started: This call started the rescue (False: nothing due, a dry run, or
            another rescuer started it first).
        already: The run had been rescued before (or concurrently) by another rescuer.
        error: Why the run could not be looked at (its history is not a saga's, or
            holds no completed workflow task); a sweep goes on with the others.
    """

    workflow_id: str
    run_id: str | None
    plan: RescuePlan | None
    rescue_id: str | None = None
    started: bool = False
    already: bool = False
    error: str | None = None


async def rescue(
    client: Client, workflow_id: str, run_id: str | None = None, *, dry_run: bool = False
) -> RescueOutcome:
    """Rescue one saga run (the latest when ``run_id`` is None), once.

    The history is decoded with the client's payload codec, so encrypted sagas are
    rescued like any other; the rescue's own input is encrypted by the same codec.

    Raises:
        SagaNotFoundError: No such saga (or run).
    """
    try:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise SagaNotFoundError(
                f"no saga {workflow_id!r} in namespace {client.namespace!r}"
            ) from None
        raise
    history = await _decoded(client, history)
    try:
        plan = rescue_plan(history)
    except SagaHistoryError as err:
        return RescueOutcome(workflow_id, run_id, None, error=str(err))
    if plan is None:
        return RescueOutcome(workflow_id, run_id, None)
    rescue_id = rescue_workflow_id(plan.workflow_id, plan.run_id)
    if dry_run:
        return RescueOutcome(workflow_id, plan.run_id, plan, rescue_id)
    started = history.events[0].workflow_execution_started_event_attributes
    try:
        await client.start_workflow(
            SagaRescue.run,
            plan,
            id=rescue_id,
            task_queue=started.task_queue.name,
            # Refused while one runs and after it closed: one rescue per run, whoever
            # asks, and a start that finds one tells the caller so.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        return RescueOutcome(workflow_id, plan.run_id, plan, rescue_id, already=True)
    _log.info("saga.rescue_started", workflow_id=workflow_id, rescue_id=rescue_id,
              compensations=len(plan.steps))  # fmt: skip
    return RescueOutcome(workflow_id, plan.run_id, plan, rescue_id, started=True)


async def rescue_all(
    client: Client, query: str = RESCUE_QUERY, *, dry_run: bool = False, limit: int | None = None
) -> list[RescueOutcome]:
    """Rescue every saga run ``query`` selects."""
    outcomes = []
    async for execution in client.list_workflows(query, limit=limit):
        outcomes.append(await rescue(client, execution.id, execution.run_id, dry_run=dry_run))
    return outcomes


async def _decoded(client: Client, history: WorkflowHistory) -> WorkflowHistory:
    codec = client.data_converter.payload_codec
    return history if codec is None else await decode_history(history, codec)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did: the rescues it started, and the stuck sagas by status."""

    rescued: tuple[str, ...] = ()
    stuck: dict[str, int] = field(default_factory=dict)


class SagaSweeper:
    """A loop a worker can host: rescue what needs it, count what is stuck.

    Each sweep starts the rescue of every saga `RESCUE_QUERY` selects (exactly once
    per run, whichever worker's sweeper gets there first), and sets the gauge
    ``temporal_sagas_stuck`` per status to the number of sagas in that status
    unchanged since ``stuck_after`` (by their start time, a server-side bound: a
    saga stuck that long started at least that long ago). The gauge goes to the
    client runtime's metrics (Prometheus with ``--metrics-address``).

    Args:
        client: The worker's client.
        interval: Time between sweeps.
        stuck_after: How old a saga still RUNNING, COMPENSATING or parked must be to
            count as stuck.
    """

    def __init__(
        self,
        client: Client,
        *,
        interval: timedelta = timedelta(minutes=5),
        stuck_after: timedelta = timedelta(hours=1),
    ) -> None:
        self._client = client
        self._interval = interval
        self._stuck_after = stuck_after
        runtime = client.service_client.config.runtime
        meter = runtime.metric_meter if runtime is not None else None
        self._gauge = (
            meter.create_gauge(
                "temporal_sagas_stuck", "Sagas in a status unchanged for too long", "sagas"
            )
            if meter is not None
            else None
        )

    async def sweep_once(self, now: datetime | None = None) -> SweepReport:
        """Rescue what needs it and count what is stuck, once."""
        outcomes = await rescue_all(self._client)
        bound = (now or datetime.now(UTC)) - self._stuck_after
        stuck: dict[str, int] = {}
        for status in STUCK_STATUSES:
            query = (
                f"SagaStatus = '{status}' AND ExecutionStatus = 'Running' "
                f"AND StartTime <= '{bound.isoformat()}'"
            )
            stuck[status] = (await self._client.count_workflows(query)).count
            if self._gauge is not None:
                self._gauge.set(stuck[status], {SAGA_STATUS.name: status})
        return SweepReport(rescued=tuple(o.workflow_id for o in outcomes if o.started), stuck=stuck)

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every ``interval`` until ``stop`` is set; a failed sweep is logged."""
        while not stop.is_set():
            try:
                report = await self.sweep_once()
                if report.rescued or any(report.stuck.values()):
                    _log.info("saga.sweep", rescued=report.rescued, stuck=report.stuck)
            except Exception as err:  # the next sweep tries again
                _log.warning("saga.sweep_failed", error=str(err) or type(err).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval.total_seconds())
