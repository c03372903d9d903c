"""`Saga`: the imperative saga API used inside any Temporal workflow."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal, NoReturn, TypeVar, overload

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    FailureError,
)

from temporal_sagas._contract import (
    QUERY_STATE,
    SAGA_ABORTED,
    SAGA_COMPENSATED,
    SAGA_COMPENSATION_FAILED,
    child_workflow_id,
    compensation_key,
    round_activity_id,
    step_key,
)
from temporal_sagas._errors import SagaDefinitionError
from temporal_sagas._models import (
    CompensationPolicy,
    CompensationStatus,
    ProbeResult,
    SagaEventKind,
    SagaState,
    SagaStatus,
    StepStatus,
)
from temporal_sagas._unwrapped import is_cancelled, plain_isinstance
from temporal_sagas.workflows import _probes as probes
from temporal_sagas.workflows._compensation import Compensator
from temporal_sagas.workflows._operator import OperatorDesk
from temporal_sagas.workflows._options import (
    ACTION_DEFAULTS,
    COMPENSATION_DEFAULTS,
    StepOptions,
    forward_only,
)
from temporal_sagas.workflows._probes import is_ambiguous
from temporal_sagas.workflows._records import Compensation, Ledger, Step, failure_info
from temporal_sagas.workflows._runtime import ActivityLaunch, SagaRuntime
from temporal_sagas.workflows._steps import (
    activity_name,
    check_name,
    describe_failure,
    takes_result,
    workflow_type_name,
)

A = TypeVar("A")
R = TypeVar("R")

CompensateOn = Literal["attempt", "success"]
_NO_ARG: Any = object()
#: What ends a saga's block and compensates it; anything else is a bug in workflow code.
_SAGA_FAILURES = (FailureError, asyncio.CancelledError, TimeoutError)


class Saga:
    """A saga inside a Temporal workflow: steps paired with compensations.

    Use it as an async context manager around the saga's steps. When a step fails
    for good, or the workflow is cancelled, or `abort` is called, the registered
    compensations run newest first and the workflow closes FAILED with a
    ``SagaCompensated`` error (CANCELED after a cancel). A bug in the workflow code
    (an exception that is not a Temporal failure) compensates nothing: Temporal
    retries the workflow task, and the saga resumes once fixed code is deployed.

    Example:
        ```python
        saga = Saga("transfer", key=req.transfer_id)
        async with saga:
            await saga.step("withdraw", withdraw, req, compensate=refund)
            await saga.step("deposit", deposit, req, compensate=reverse_deposit)
        ```

    Args:
        name: The saga's name, used in keys, logs and the ``SagaName`` search attribute.
        key: The business key; defaults to the workflow id.
        policy: How compensations run once the saga must be undone.
        park_on_failure: Park in NEEDS_ATTENTION when a compensation fails for good
            (the default). When False the saga closes FAILED with a
            ``SagaCompensationFailed`` error listing what could not be undone.
        action_options: Defaults for every step's action.
        compensation_options: Defaults for every compensation.
        search_attributes: Upsert ``SagaName``/``SagaStatus``. The namespace must
            have them registered (``sagas dev`` and the test fixtures do). When
            False a history rebuild infers the status (a park excepted).
        audit_log: Log each transition as an audit event while the saga runs (the
            default). When False nothing is logged live, which saves most of the
            engine's CPU cost; the same trail, ids and hashes included, can still
            be built from the history (``sagas audit``, `history.audit_trail`).
    """

    # Slotted: one object fewer per saga for the collector to walk while it is open.
    __slots__ = (
        "_action_options",
        "_audit_log",
        "_compensation_options",
        "_desk",
        "_key",
        "_occurrences",
        "_park",
        "_pivot_declared",
        "_policy",
        "_rt",
        "_search_attributes",
        "name",
    )

    def __init__(
        self,
        name: str,
        *,
        key: str | None = None,
        policy: CompensationPolicy = CompensationPolicy.SEQUENTIAL,
        park_on_failure: bool = True,
        action_options: StepOptions | None = None,
        compensation_options: StepOptions | None = None,
        search_attributes: bool = True,
        audit_log: bool = True,
    ) -> None:
        check_name("saga name", name)
        self.name = name
        self._key = key
        self._policy = policy
        self._park = park_on_failure
        # The framework's defaults as they are when nothing is given: every saga starts here.
        self._action_options = (
            action_options.merged_over(ACTION_DEFAULTS) if action_options else ACTION_DEFAULTS
        )
        self._compensation_options = (
            compensation_options.merged_over(COMPENSATION_DEFAULTS)
            if compensation_options
            else COMPENSATION_DEFAULTS
        )
        self._search_attributes = search_attributes
        self._audit_log = audit_log
        self._rt: SagaRuntime | None = None
        self._desk: OperatorDesk | None = None
        self._occurrences: dict[str, int] = {}
        self._pivot_declared = False

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Saga:
        if self._rt is not None:
            raise SagaDefinitionError(f"saga {self.name!r} was entered twice; use one per run")
        if workflow.get_query_handler(QUERY_STATE) is not None:
            raise SagaDefinitionError(
                f"a second saga ({self.name!r}) was opened in workflow "
                f"{workflow.info().workflow_id!r}: run one saga per workflow and use "
                "Saga.child() for sub-sagas"
            )
        info = workflow.info()
        ledger = Ledger(
            name=self.name,
            key=self._key or info.workflow_id,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            policy=self._policy,
            started_at=workflow.now(),
        )
        self._rt = SagaRuntime(
            ledger, search_attributes=self._search_attributes, audit_log=self._audit_log
        )
        self._desk = OperatorDesk(self._rt)
        # A lambda, not the annotated method: the SDK reads a handler's type hints when
        # it is registered, and resolving the method's string annotations costs more
        # than the rest of the saga's start. The result is encoded by its value anyway.
        workflow.set_query_handler(QUERY_STATE, lambda: self._query_state())
        self._rt.publish_start()
        self._rt.emit(SagaEventKind.SAGA_STARTED, detail=f"key={ledger.key}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        rt = self._runtime()
        if exc is None:
            self._close(SagaStatus.COMPLETED)
            return
        if not plain_isinstance(exc, _SAGA_FAILURES):
            # A bug in workflow code: fail the task, compensate nothing, resume after a fix.
            return
        cancelled = is_cancelled(exc)
        if cancelled:
            rt.note_cancel()
        if rt.ledger.pivot_passed:
            rt.ledger.failure = failure_info(exc)
            self._close(SagaStatus.CANCELLED if cancelled else SagaStatus.FAILED)
            return
        await self._compensate(exc)

    async def _compensate(self, exc: BaseException) -> None:
        rt = self._runtime()
        rt.ledger.failure = failure_info(exc)
        failed_step = next(
            (s.name for s in reversed(rt.ledger.steps) if s.status is not StepStatus.COMPLETED),
            None,
        )
        compensator = Compensator(
            rt, self._operator(), options=self._compensation_options, park_on_failure=self._park
        )
        outcome = await rt.run_to_end(lambda: compensator.run(failed_step))
        report = outcome.report
        if not outcome.clean:
            self._close(SagaStatus.FAILED)
            raise ApplicationError(
                f"saga {self.name!r} (key {rt.ledger.key!r}) could not be compensated: "
                f"failed {list(report.failed)}, not run {list(report.not_run)}; "
                "undo these by hand",
                report,
                type=SAGA_COMPENSATION_FAILED,
                non_retryable=True,
            ) from exc
        if rt.ledger.cancel_requested:
            self._close(SagaStatus.CANCELLED)
            if is_cancelled(exc):
                return
            raise asyncio.CancelledError(workflow.cancellation_reason()) from exc
        self._close(SagaStatus.COMPENSATED)
        reason = f"step {failed_step!r} failed" if failed_step else describe_failure(exc)
        raise ApplicationError(
            f"saga {self.name!r} (key {rt.ledger.key!r}) was compensated because {reason}: "
            f"compensated {list(report.compensated)}",
            report,
            type=SAGA_COMPENSATED,
            non_retryable=True,
        ) from exc

    def _close(self, status: SagaStatus) -> None:
        rt = self._runtime()
        if status is SagaStatus.COMPLETED:
            # A completed saga will never run the compensations it registered.
            for step in rt.ledger.steps:
                comp = step.compensation
                if comp is not None and comp.status is CompensationStatus.REGISTERED:
                    comp.status = CompensationStatus.NOT_NEEDED
        rt.set_status(status)
        rt.ledger.closed_at = rt.emit(SagaEventKind.SAGA_CLOSED, detail=status.value)

    # -- steps -----------------------------------------------------------------------------

    @overload
    async def step(
        self,
        name: str,
        action: Callable[[], Awaitable[R]],
        *,
        compensate: Callable[[], Awaitable[Any]]
        | Callable[[R | None], Awaitable[Any]]
        | None = ...,
        compensate_on: CompensateOn = ...,
        pivot: bool = ...,
        local: bool = ...,
        options: StepOptions | None = ...,
        compensation_options: StepOptions | None = ...,
        probe: Callable[..., Awaitable[ProbeResult]] | str | None = ...,
        ambiguous: Sequence[str] = ...,
    ) -> R: ...

    @overload
    async def step(
        self,
        name: str,
        action: Callable[[A], Awaitable[R]],
        arg: A,
        *,
        compensate: Callable[[A], Awaitable[Any]]
        | Callable[[A, R | None], Awaitable[Any]]
        | None = ...,
        compensate_on: CompensateOn = ...,
        pivot: bool = ...,
        local: bool = ...,
        options: StepOptions | None = ...,
        compensation_options: StepOptions | None = ...,
        probe: Callable[..., Awaitable[ProbeResult]] | str | None = ...,
        ambiguous: Sequence[str] = ...,
    ) -> R: ...

    @overload
    async def step(
        self,
        name: str,
        action: str,
        arg: Any = ...,
        *,
        result_type: type[R],
        compensate: str | None = ...,
        compensate_with_result: bool = ...,
        compensate_on: CompensateOn = ...,
        pivot: bool = ...,
        local: bool = ...,
        options: StepOptions | None = ...,
        compensation_options: StepOptions | None = ...,
        probe: Callable[..., Awaitable[ProbeResult]] | str | None = ...,
        ambiguous: Sequence[str] = ...,
    ) -> R: ...

    async def step(
        self,
        name: str,
        action: Any,
        arg: Any = _NO_ARG,
        *,
        compensate: Any = None,
        compensate_on: CompensateOn = "attempt",
        compensate_with_result: bool | None = None,
        pivot: bool = False,
        local: bool = False,
        options: StepOptions | None = None,
        compensation_options: StepOptions | None = None,
        result_type: type | None = None,
        probe: Any = None,
        ambiguous: Sequence[str] = (),
    ) -> Any:
        """Run one step: register its compensation, then run its action.

        Args:
            name: The step's name, unique in the saga; repeated names get a loop
                index (``charge``, ``charge[1]``, ...). Keys and activity ids derive
                from it, so renaming a step is a breaking change.
            action: The activity (function or registered name) doing the work.
            arg: The single argument of the action; the compensation gets it too.
            compensate: The activity that undoes the action. It takes the action's
                argument, and optionally a second parameter that receives the
                action's result (None when no result was recorded).
            compensate_on: ``attempt`` (default) registers the compensation before
                the action is scheduled, since a timed-out action may still have
                taken effect. ``success`` registers it only after the action
                succeeded; use it only for actions known to be atomic.
            compensate_with_result: For a compensation given by name, whether it
                takes the result as second argument. Inferred for functions.
            pivot: This step is the point of no return: once it succeeds, the saga
                only goes forward and the steps after it retry until they succeed.
            local: Run as a local activity (fewer history events, same contract).
            options: Activity options for the action.
            compensation_options: Activity options for the compensation.
            result_type: The result type, required when ``action`` is a name.
            probe: An activity that answers, with a `ProbeResult`, whether the
                action took effect; asked when the action's outcome is unknown (its
                last attempt timed out, or it failed with an ``ambiguous`` type). It
                gets the action's argument and runs under the action's key.
            ambiguous: ApplicationError types of the action that leave its outcome
                unknown, as a timeout does.

        Returns:
            The action's result (or the probe's, when the probe found it took effect).
        """
        rt = self._runtime()
        step_name = self._next_name(name)
        has_arg = arg is not _NO_ARG
        args = [arg] if has_arg else []
        self._check_step(step_name, compensate, pivot)
        after_pivot = rt.ledger.pivot_passed
        key = step_key(self.name, rt.ledger.key, step_name)
        step = Step(
            name=step_name,
            activity_name=activity_name(action),
            kind="local_activity" if local else "activity",
            idempotency_key=key,
            activity_id=key,
            scheduled_at=rt.now(),
            pivot=pivot,
            after_pivot=after_pivot,
        )
        if compensate is not None:
            step.compensation = Compensation(
                activity=compensate,
                activity_name=activity_name(compensate),
                args=args,
                pass_result=takes_result(compensate, len(args), compensate_with_result),
                idempotency_key=compensation_key(key),
                activity_id=compensation_key(key),
                local=local,
                options=compensation_options.merged_over(self._compensation_options)
                if compensation_options
                else None,
            )
        # No per-step options is the common case: the saga's own are already merged.
        step_options = (
            options.merged_over(self._action_options) if options else self._action_options
        )
        if after_pivot:
            step_options = forward_only(step_options)

        if probe is not None:
            step.probe, step.probe_name = probe, activity_name(probe)
            step.ambiguous = tuple(ambiguous)
        launch = ActivityLaunch(rt, action, args, step, step_options, local, result_type)
        return await self._run(step, launch, register_after=compensate_on == "success")

    async def child(
        self,
        name: str,
        saga_workflow: Callable[[Any, A], Awaitable[R]],
        arg: A,
        *,
        compensate: Callable[[A], Awaitable[Any]]
        | Callable[[A, R | None], Awaitable[Any]]
        | None = None,
        pivot: bool = False,
        compensation_options: StepOptions | None = None,
        task_queue: str | None = None,
    ) -> R:
        """Run a sub-saga as a child workflow and make it a step of this saga.

        A child saga that fails compensates itself first; the failure then reaches
        this saga, which compensates its own steps. A child that completed can be
        undone by ``compensate`` (an activity) if this saga fails later.

        Args:
            name: The step's name; the child's workflow id is ``<this id>/<name>``.
            saga_workflow: The child workflow's run method.
            arg: The child's input.
            compensate: Activity that undoes a completed child.
            pivot: The child is the point of no return.
            compensation_options: Activity options for the compensation.
            task_queue: Run the child on another task queue.

        Returns:
            The child's result.
        """
        rt = self._runtime()
        step_name = self._next_name(name)
        self._check_step(step_name, compensate, pivot)
        child_id = child_workflow_id(rt.ledger.workflow_id, step_name)
        key = step_key(self.name, rt.ledger.key, step_name)
        step = Step(
            name=step_name,
            activity_name=workflow_type_name(saga_workflow),
            kind="child_saga",
            idempotency_key=key,
            activity_id=child_id,
            scheduled_at=rt.now(),
            pivot=pivot,
            after_pivot=rt.ledger.pivot_passed,
        )
        if compensate is not None:
            step.compensation = Compensation(
                activity=compensate,
                activity_name=activity_name(compensate),
                args=[arg],
                pass_result=takes_result(compensate, 1, None),
                idempotency_key=compensation_key(key),
                activity_id=compensation_key(key),
                local=False,
                options=compensation_options.merged_over(self._compensation_options)
                if compensation_options
                else None,
            )

        async def launch(workflow_id: str) -> Any:
            handle = await rt.start_child(
                saga_workflow,
                arg,
                header=rt.header_for(step, "action"),
                workflow_id=workflow_id,
                task_queue=task_queue,
            )
            return await handle

        result: R = await self._run(step, launch, register_after=True)
        return result

    async def sleep(self, duration: float | timedelta) -> None:
        """Sleep on a durable timer; after the pivot a cancel cannot cut the sleep short.

        Before the pivot this is ``workflow.sleep``: a cancel compensates. After the
        pivot the saga only goes forward, so the cancel is recorded and ignored.
        """
        if self._runtime().ledger.pivot_passed:
            await self._runtime().run_to_end(lambda: workflow.sleep(duration))
        else:
            await workflow.sleep(duration)

    async def wait_condition(
        self,
        condition: Callable[[], bool],
        *,
        timeout: float | timedelta | None = None,  # noqa: ASYNC109 (a durable timer, as in workflow.wait_condition)
    ) -> None:
        """Wait for ``condition``; like `sleep`, a cancel after the pivot is ignored.

        Raises:
            TimeoutError: ``timeout`` passed first; raised inside the saga block it
                compensates (before the pivot).
        """

        async def wait() -> None:
            await workflow.wait_condition(condition, timeout=timeout)

        if self._runtime().ledger.pivot_passed:
            await self._runtime().run_to_end(wait)
        else:
            await wait()

    def abort(self, reason: str) -> NoReturn:
        """Stop the saga on purpose and compensate what was done.

        Raises:
            ApplicationError: Always, of type ``SagaAborted``; the saga then closes
                with ``SagaCompensated`` whose cause is this abort.
        """
        raise ApplicationError(
            f"saga {self.name!r} aborted: {reason}", type=SAGA_ABORTED, non_retryable=True
        )

    @property
    def state(self) -> SagaState:
        """A snapshot of the saga, as the ``saga_state`` query returns it."""
        return self._runtime().ledger.snapshot()

    @property
    def key(self) -> str:
        """The saga's business key (the workflow id unless one was given)."""
        return self._runtime().ledger.key

    # -- internals -------------------------------------------------------------------------

    def _run(
        self, step: Step, launch: Callable[[str], Awaitable[Any]], *, register_after: bool
    ) -> Awaitable[Any]:
        """Register ``step`` and hand back what runs it, for the caller to await.

        Not a coroutine itself: one coroutine fewer per step, kept while the step's
        activity runs and passed through on every resume.
        """
        rt = self._rt
        assert rt is not None  # the callers checked that the saga is open
        compensation, step.compensation = step.compensation, None
        step.deferred_compensation = compensation if register_after else None
        if not register_after:
            step.compensation = compensation
        rt.ledger.steps.append(step)
        rt.emit(SagaEventKind.STEP_SCHEDULED, step=step.name)
        if step.after_pivot:
            return rt.run_to_end(lambda: self._forward(step, launch))
        if step.pivot:
            # Whether the point of no return was passed must be known: a cancel waits
            # for the pivot's own outcome instead of abandoning it.
            return rt.run_to_end(lambda: self._attempt(step, launch, compensation))
        return self._attempt(step, launch, compensation)

    async def _attempt(
        self,
        step: Step,
        launch: Callable[[str], Awaitable[Any]],
        compensation: Compensation | None,
    ) -> Any:
        try:
            result = await launch(step.activity_id)
        except (FailureError, asyncio.CancelledError) as err:
            self._fail(step, err)
            if step.probe is None or not is_ambiguous(err, step.ambiguous):
                raise
            assert isinstance(launch, ActivityLaunch)  # child sagas take no probe
            answer = await probes.ask(
                self._runtime(), step, launch.args, launch.options, _result_type(launch)
            )
            if answer is None or not answer.took_effect:
                raise
            step.failure, result = None, answer.result
        step.compensation = compensation
        self._complete(step, result)
        return result

    async def _forward(self, step: Step, launch: Callable[[str], Awaitable[Any]]) -> Any:
        """Run a step after the pivot: it must succeed, so a failure parks, never compensates."""
        rt = self._runtime()
        rounds = 1
        while True:
            activity_id = round_activity_id(step.activity_id, rounds)
            try:
                result = await launch(activity_id)
            except (ActivityError, ApplicationError, ChildWorkflowError) as err:
                # ApplicationError: a local activity's own failure arrives unwrapped.
                self._fail(step, err)
                await self._operator().park(
                    [step.name], resume=SagaStatus.RUNNING, allowed=frozenset({"retry"})
                )
                rounds += 1
                step.status = StepStatus.SCHEDULED
                step.failure = None
                rt.emit(SagaEventKind.STEP_SCHEDULED, step=step.name, detail=f"round {rounds}")
                continue
            self._complete(step, result)
            return result

    def _complete(self, step: Step, result: Any) -> None:
        rt = self._rt
        assert rt is not None  # a step ran, so the saga is open
        step.status = StepStatus.COMPLETED
        step.result, step.has_result = result, True
        if step.pivot:
            rt.ledger.pivot_passed = True
        step.closed_at = rt.emit(SagaEventKind.STEP_COMPLETED, step=step.name)

    def _fail(self, step: Step, err: BaseException) -> None:
        step.status = StepStatus.CANCELLED if is_cancelled(err) else StepStatus.FAILED
        step.failure = failure_info(err)
        rt = self._rt
        assert rt is not None  # a step ran, so the saga is open
        step.closed_at = rt.emit(SagaEventKind.STEP_FAILED, step=step.name, failure=step.failure)

    def _next_name(self, name: str) -> str:
        check_name("step name", name)
        seen = self._occurrences.get(name, 0)
        self._occurrences[name] = seen + 1
        return name if seen == 0 else f"{name}[{seen}]"

    def _check_step(self, name: str, compensate: object, pivot: bool) -> None:
        assert self._rt is not None  # the callers checked that the saga is open
        ledger = self._rt.ledger
        if pivot and self._pivot_declared:
            raise SagaDefinitionError(
                f"step {name!r} of saga {self.name!r} is a second pivot; a saga has at most one"
            )
        if compensate is not None and (pivot or ledger.pivot_passed or self._pivot_declared):
            where = "is the pivot" if pivot else "comes after the pivot"
            raise SagaDefinitionError(
                f"step {name!r} of saga {self.name!r} {where} but declares a compensation: "
                "steps from the pivot on are never compensated; drop the compensation or "
                "move the step before the pivot"
            )
        self._pivot_declared = self._pivot_declared or pivot

    def _query_state(self) -> SagaState:
        return self._runtime().ledger.snapshot()

    def _runtime(self) -> SagaRuntime:
        if self._rt is None:
            raise SagaDefinitionError(
                f"saga {self.name!r} is not open: use `async with saga:` around its steps"
            )
        return self._rt

    def _operator(self) -> OperatorDesk:
        assert self._desk is not None
        return self._desk


def _result_type(launch: ActivityLaunch) -> Any:
    """The type the action returns: as given, or as its activity function declares."""
    if launch.result_type is not None:
        return launch.result_type
    if isinstance(launch.activity, str):
        return None
    defn = getattr(launch.activity, "__temporal_activity_definition", None)
    return getattr(defn, "ret_type", None)
