"""Failure injection for users' sagas: one case per step and per compensation.

The saga's real workflow code runs on a Temporal server (the time-skipping one in
tests); its activities are replaced by one stub registered for every activity name.
A stub returns a value of the activity's declared return type (built from defaults,
or by a fake you give), and fails when the case says so. Each case then checks the
saga contract: which compensations ran, newest first, and the final status.

Example:
    ```python
    INJECTOR = FailureInjector(BookTrip.run, TRIP, activities=ACTIVITIES)

    @pytest.mark.parametrize("case", failure_cases(["car", "hotel", "flight"]), ids=str)
    async def test_booking_survives(saga_env, case):
        await INJECTOR.check(saga_env.client, case)
    ```
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from temporal_sagas._client import saga_state
from temporal_sagas._context import current_step
from temporal_sagas._errors import SagaError
from temporal_sagas._models import CompensationPolicy, SagaState, SagaStatus, StepRecord
from temporal_sagas.testing._placeholders import placeholder

__all__ = [
    "CaseResult",
    "CoverageReport",
    "FailureInjector",
    "InjectionCase",
    "SagaContractViolation",
    "failure_cases",
]

INJECTED_FAILURE = "InjectedFailure"
_SETTLED = frozenset({*SagaStatus, SagaStatus.NEEDS_ATTENTION}) - {
    SagaStatus.RUNNING,
    SagaStatus.COMPENSATING,
}


class SagaContractViolation(SagaError, AssertionError):
    """A failure-injection case broke the saga contract (see the message for which rule)."""


@dataclass(frozen=True)
class InjectionCase:
    """One injected failure: a step's action fails, or a step's compensation fails.

    Attributes:
        kind: ``step`` (the action of ``step`` fails) or ``compensation`` (its
            compensation fails, after a later step's failure started compensating).
        step: The step the failure is injected into.
    """

    kind: Literal["step", "compensation"]
    step: str

    def __str__(self) -> str:
        return f"{self.kind}-fails:{self.step}"


def failure_cases(
    steps: Sequence[str], compensated: Sequence[str] | None = None
) -> list[InjectionCase]:
    """The cases for ``pytest.mark.parametrize``: each step fails, each compensation fails.

    Args:
        steps: The saga's step names, in order.
        compensated: The steps that declare a compensation; all of ``steps`` by default.
    """
    names = list(steps)
    return [InjectionCase("step", s) for s in names] + [
        InjectionCase("compensation", s) for s in (names if compensated is None else compensated)
    ]


@dataclass(frozen=True)
class Call:
    """One stubbed activity call, as the stub saw it."""

    step: str
    kind: Literal["action", "compensation", "probe"]
    activity: str
    failed: bool


@dataclass(frozen=True)
class CaseResult:
    """What a case did, once its contract was checked.

    Attributes:
        case: The case.
        status: The saga's status when it settled.
        compensated: Steps whose compensation ran and succeeded, in the order they ran.
        failed_compensations: Steps whose compensation was called and failed.
        state: The saga's final state.
    """

    case: InjectionCase
    status: SagaStatus
    compensated: tuple[str, ...]
    failed_compensations: tuple[str, ...]
    state: SagaState


@dataclass(frozen=True)
class CoverageReport:
    """Which failure paths the cases exercised.

    Attributes:
        paths: Every path of the saga: ``step-fails:<step>``, ``compensated:<step>``
            and ``compensation-fails:<step>``.
        untested: The paths no case exercised.
    """

    paths: tuple[str, ...]
    untested: tuple[str, ...]

    def render(self) -> str:
        """A short human report."""
        tested = len(self.paths) - len(self.untested)
        lines = [f"compensation coverage: {tested}/{len(self.paths)} failure paths exercised"]
        lines += [f"  untested: {path}" for path in self.untested]
        return "\n".join(lines)


@dataclass
class _Run:
    case: InjectionCase | None
    trigger: str | None = None
    calls: list[Call] = field(default_factory=list)


class FailureInjector:
    """Runs one saga with stubbed activities under injected failures.

    Args:
        saga: The saga workflow's run method (``BookTrip.run``), any authoring style.
        arg: The saga's input, the same for every case.
        activities: The saga's real activities: their names and return types are
            what the stubs impersonate (the real code never runs).
        fakes: Optional replacements by activity name, called with the decoded
            arguments; their return value is the activity's result.
        workflows: Every workflow class the worker must register (child sagas);
            defaults to the class of ``saga``.
    """

    def __init__(
        self,
        saga: Callable[..., Any],
        arg: Any,
        *,
        activities: Sequence[Callable[..., Any]],
        fakes: Mapping[str, Callable[..., Any]] | None = None,
        workflows: Sequence[type] | None = None,
    ) -> None:
        self._saga = saga
        self._arg = arg
        self._definitions = {d.name: d for d in map(_definition, activities) if d.name}
        self._fakes = dict(fakes or {})
        self._workflows = list(workflows) if workflows else [_workflow_class(saga)]
        self._runs: dict[str, _Run] = {}
        self._baseline: SagaState | None = None
        self.results: list[CaseResult] = []
        INJECTORS.append(self)

    # -- running ---------------------------------------------------------------------------

    async def baseline(self, client: Client) -> SagaState:
        """Run the saga once with every stub succeeding; its steps define the cases."""
        if self._baseline is None:
            state, _ = await self._execute(client, None)
            if state.status is not SagaStatus.COMPLETED:
                raise SagaContractViolation(
                    f"with every activity succeeding the saga ended {state.status}, not "
                    "COMPLETED: give fakes= for activities whose default result the saga rejects"
                )
            self._baseline = state
        return self._baseline

    async def cases(self, client: Client) -> list[InjectionCase]:
        """Every case of the saga, derived from a baseline run."""
        steps = (await self.baseline(client)).steps
        return failure_cases([s.name for s in steps], [s.name for s in steps if s.compensation])

    async def check(self, client: Client, case: InjectionCase) -> CaseResult:
        """Run one case and check the contract.

        Raises:
            SagaContractViolation: The saga did not compensate as the contract says.
        """
        steps = (await self.baseline(client)).steps
        index = _index(steps, case.step)
        state, run = await self._execute(client, case, _trigger(steps, index, case))
        result = _verify(case, steps, index, state, run)
        self.results.append(result)
        return result

    async def check_all(self, client: Client) -> CoverageReport:
        """Run every case; return the coverage report.

        Raises:
            SagaContractViolation: The first case that broke the contract.
        """
        for case in await self.cases(client):
            await self.check(client, case)
        return self.coverage()

    def coverage(self) -> CoverageReport:
        """The failure paths of the saga and those no checked case exercised yet."""
        steps = self._baseline.steps if self._baseline else ()
        paths = [f"step-fails:{s.name}" for s in steps]
        for s in steps:
            if s.compensation:
                paths += [f"compensated:{s.name}", f"compensation-fails:{s.name}"]
        seen: set[str] = set()
        for r in self.results:
            if r.case.kind == "step":
                seen.add(f"step-fails:{r.case.step}")
            seen.update(f"compensated:{s}" for s in r.compensated)
            seen.update(f"compensation-fails:{s}" for s in r.failed_compensations)
        return CoverageReport(tuple(paths), tuple(p for p in paths if p not in seen))

    async def _execute(
        self, client: Client, case: InjectionCase | None, trigger: str | None = None
    ) -> tuple[SagaState, _Run]:
        wid = f"inject-{case or 'baseline'}-{uuid.uuid4().hex[:8]}".replace(":", "-")
        task_queue = f"inject-{uuid.uuid4().hex[:8]}"
        run = self._runs[wid] = _Run(case, trigger)
        async with Worker(
            client, task_queue=task_queue, workflows=self._workflows, activities=[self._stub()]
        ):
            handle = await client.start_workflow(
                self._saga, self._arg, id=wid, task_queue=task_queue
            )
            state = await _settled(handle)
            if state.status is SagaStatus.NEEDS_ATTENTION:
                await handle.terminate("failure-injection case checked")
        return state, run

    def _stub(self) -> Callable[..., Any]:
        @activity.defn(dynamic=True)
        async def saga_stub(args: Sequence[RawValue]) -> Any:
            info = activity.info()
            ctx = current_step()
            run = self._runs[info.workflow_id or ""]
            fail = run.case is not None and (
                (run.case.kind == "step" and ctx.kind == "action" and ctx.step == run.case.step)
                or (
                    run.case.kind == "compensation"
                    and ctx.kind == "action"
                    and ctx.step == run.trigger
                )
                or (
                    run.case.kind == "compensation"
                    and ctx.kind == "compensation"
                    and ctx.step == run.case.step
                )
            )
            run.calls.append(Call(ctx.step, ctx.kind, info.activity_type, fail))
            if fail:
                raise ApplicationError(
                    f"injected failure in {ctx.kind} of step {ctx.step!r}",
                    type=INJECTED_FAILURE,
                    non_retryable=True,
                )
            return await self._result(info.activity_type, args)

        return saga_stub

    async def _result(self, name: str, args: Sequence[RawValue]) -> Any:
        defn = self._definitions.get(name)
        fake = self._fakes.get(name)
        if fake is not None:
            hints: list[type[Any]] = list(defn.arg_types or []) if defn else []
            converter = activity.payload_converter()
            values = [
                converter.from_payload(a.payload, hints[i])
                if i < len(hints)
                else converter.from_payload(a.payload)
                for i, a in enumerate(args)
            ]
            value = fake(*values)
            return await value if inspect.isawaitable(value) else value
        return placeholder(defn.ret_type) if defn is not None and defn.ret_type else None


#: Every injector created in this process; the pytest plugin reports their coverage.
INJECTORS: list[FailureInjector] = []


def _definition(fn: Callable[..., Any]) -> Any:
    defn = getattr(fn, "__temporal_activity_definition", None)
    if defn is None:
        raise SagaError(f"{fn!r} is not an @activity.defn function; pass the saga's activities")
    return defn


def _workflow_class(run: Callable[..., Any]) -> type:
    owner = getattr(run, "__self__", None) or _qualified_owner(run)
    if not isinstance(owner, type):
        raise SagaError(f"cannot tell the workflow class of {run!r}; pass workflows=[...]")
    return owner


def _qualified_owner(run: Callable[..., Any]) -> Any:
    module = inspect.getmodule(run)
    owner_name = getattr(run, "__qualname__", "").rpartition(".")[0]
    return getattr(module, owner_name, None) if module and owner_name else None


async def _settled(handle: WorkflowHandle[Any, Any], polls: int = 400) -> SagaState:
    """Poll (bounded) until the saga closes or parks."""
    state: SagaState | None = None
    for _ in range(polls):
        try:
            state = await saga_state(handle)
        except Exception:  # the first workflow task may not have run yet
            state = None
        if state is not None and state.status in _SETTLED:
            return state
        await asyncio.sleep(0.02)
    raise SagaContractViolation(
        f"saga {handle.id} never closed nor parked; last state: {state and state.status}"
    )


def _index(steps: Sequence[StepRecord], name: str) -> int:
    for index, step in enumerate(steps):
        if step.name == name:
            return index
    raise SagaError(f"the saga has no step {name!r}; its steps: {[s.name for s in steps]}")


def _trigger(steps: Sequence[StepRecord], index: int, case: InjectionCase) -> str | None:
    if case.kind == "step":
        return None
    if steps[index].compensation is None:
        raise SagaError(f"step {case.step!r} declares no compensation to fail")
    # Fail the next step so that this one's compensation is due; the last step fails itself.
    return steps[index + 1].name if index + 1 < len(steps) else steps[index].name


def _verify(
    case: InjectionCase,
    baseline: Sequence[StepRecord],
    index: int,
    state: SagaState,
    run: _Run,
) -> CaseResult:
    compensations = [c for c in run.calls if c.kind == "compensation"]
    done = tuple(c.step for c in compensations if not c.failed)
    failed = tuple(c.step for c in compensations if c.failed)
    result = CaseResult(case, state.status, done, failed, state)
    trigger_index = index if case.kind == "step" else _index(baseline, run.trigger or case.step)
    registered = [s.name for s in state.steps[: trigger_index + 1] if s.compensation is not None]
    due = list(reversed(registered))

    def violated(rule: str) -> SagaContractViolation:
        return SagaContractViolation(
            f"case {case} of saga {state.name!r} ({state.workflow_id}): {rule}; status "
            f"{state.status}, compensations that ran {list(done)}, failed {list(failed)}"
        )

    later = [c.step for c in run.calls if c.kind == "action"][trigger_index + 1 :]
    if later:
        raise violated(f"actions ran after the failing step: {later}")
    if case.kind == "step" and baseline[index].after_pivot:
        if state.status is not SagaStatus.NEEDS_ATTENTION or compensations:
            raise violated("a step after the pivot must park for a retry, never compensate")
        return result
    if case.kind == "step":
        if state.status is not SagaStatus.COMPENSATED or list(done) != due:
            raise violated(f"expected COMPENSATED with compensations newest first {due}")
        return result
    position = due.index(case.step) if case.step in due else -1
    if position < 0:
        raise violated(f"the compensation of {case.step!r} never became due")
    newer, older = due[:position], due[position + 1 :]
    if state.status not in (SagaStatus.NEEDS_ATTENTION, SagaStatus.FAILED):
        raise violated("a failed compensation must park the saga or fail it, never hide")
    if failed != (case.step,):
        raise violated(f"expected only the compensation of {case.step!r} to fail")
    if state.policy is CompensationPolicy.PARALLEL:
        ok = sorted(done) == sorted(newer + older)
    elif state.policy is CompensationPolicy.CONTINUE_ON_ERROR:
        ok = list(done) == newer + older
    else:
        ok = list(done) == newer
    if not ok:
        raise violated(f"expected compensations {newer} before it and, by policy, {older} after")
    return result
