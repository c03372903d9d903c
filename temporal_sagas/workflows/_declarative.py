"""The class style: a class of `step(...)` attributes compiled into a saga workflow.

``@saga_workflow`` turns the class into a ``@workflow.defn`` class whose ``run`` method
opens one `Saga` and calls `Saga.step` for each step in declaration order, so the
class style shares the imperative engine (and its `SagaState` timeline) exactly.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar, overload

from temporalio import workflow

from temporal_sagas._errors import SagaDefinitionError
from temporal_sagas._models import CompensationPolicy, ProbeResult
from temporal_sagas.workflows._options import StepOptions
from temporal_sagas.workflows._saga import Saga

A = TypeVar("A")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
R_contra = TypeVar("R_contra", contravariant=True)
C = TypeVar("C", bound=type)

CompensateOn = Literal["attempt", "success"]
#: Maps the saga input and the results of earlier steps (by step name) to a step's input.
InputMapper = Callable[[Any, Mapping[str, Any]], A]

_STEPS_ATTR = "__saga_steps__"
_NAME_ATTR = "__saga_name__"


class SagaStep(Generic[A, R]):
    """One declared step of a class-style saga; made by `step`, read by `saga_workflow`.

    Attributes:
        name: The attribute name, which is the step's name in the saga.
        action: The activity doing the work.
        compensate: The activity undoing it, if any.
    """

    def __init__(
        self,
        action: Callable[..., Awaitable[R]],
        *,
        compensate: Callable[..., Awaitable[Any]] | None,
        input: InputMapper[A] | None,
        compensate_on: CompensateOn,
        pivot: bool,
        local: bool,
        options: StepOptions | None,
        compensation_options: StepOptions | None,
        probe: Callable[..., Awaitable[Any]] | None = None,
        ambiguous: Sequence[str] = (),
    ) -> None:
        self.name = ""
        self.action = action
        self.compensate = compensate
        self.input = input
        self.compensate_on: CompensateOn = compensate_on
        self.pivot = pivot
        self.local = local
        self.options = options
        self.compensation_options = compensation_options
        self.probe = probe
        self.ambiguous = tuple(ambiguous)
        self.takes_arg = len(_positional(action)) > 0

    def __set_name__(self, owner: type, name: str) -> None:
        # Checked by @saga_workflow, not here: Python 3.11 wraps errors raised in
        # __set_name__ in a RuntimeError, which would hide the SagaDefinitionError.
        self.name = name

    def __repr__(self) -> str:
        return f"step({self.name!r}, action={_fn_name(self.action)})"


class _Action(Protocol[A, R_co]):  # type: ignore[misc]  # invariant A: see below
    def __call__(self, arg: A, /) -> Awaitable[R_co]: ...


class _Compensation(Protocol[A]):  # type: ignore[misc]
    def __call__(self, arg: A, /) -> Awaitable[Any]: ...


class _CompensationWithResult(Protocol[A, R_contra]):  # type: ignore[misc]
    def __call__(self, arg: A, result: R_contra | None, /) -> Awaitable[Any]: ...


# The step input's type A is invariant in these protocols on purpose. With plain
# ``Callable[[A], ...]`` for both action and compensation, A only appears in
# contravariant positions, so mypy solves it as the meet of both parameter types
# (Never) and accepts any compensation; an invariant A pins it to the action's type.


@overload
def step(
    action: _Action[A, R],
    *,
    compensate: _Compensation[A] | _CompensationWithResult[A, R] | None = None,
    input: InputMapper[A] | None = None,
    compensate_on: CompensateOn = "attempt",
    pivot: bool = False,
    local: bool = False,
    options: StepOptions | None = None,
    compensation_options: StepOptions | None = None,
    probe: Callable[..., Awaitable[ProbeResult]] | None = None,
    ambiguous: Sequence[str] = (),
) -> SagaStep[A, R]: ...


@overload
def step(
    action: Callable[[], Awaitable[R]],
    *,
    compensate: Callable[[], Awaitable[Any]] | Callable[[R | None], Awaitable[Any]] | None = None,
    compensate_on: CompensateOn = "attempt",
    pivot: bool = False,
    local: bool = False,
    options: StepOptions | None = None,
    compensation_options: StepOptions | None = None,
    probe: Callable[..., Awaitable[ProbeResult]] | None = None,
    ambiguous: Sequence[str] = (),
) -> SagaStep[None, R]: ...


def step(
    action: Callable[..., Awaitable[Any]],
    *,
    compensate: Callable[..., Awaitable[Any]] | None = None,
    input: InputMapper[Any] | None = None,
    compensate_on: CompensateOn = "attempt",
    pivot: bool = False,
    local: bool = False,
    options: StepOptions | None = None,
    compensation_options: StepOptions | None = None,
    probe: Callable[..., Awaitable[ProbeResult]] | None = None,
    ambiguous: Sequence[str] = (),
) -> SagaStep[Any, Any]:
    """Declare a step of a `saga_workflow` class.

    The step's name is the attribute's name. Its input is the saga input unless
    ``input`` maps it from the saga input and earlier results. The compensation takes
    the action's argument, optionally followed by the action's result (None when none
    was recorded); mypy rejects one that does not fit the action, and so does the
    class definition at run time.

    Args:
        action: The activity doing the work; it takes one argument (the step input)
            or none.
        compensate: The activity undoing the action; never on or after the pivot.
        input: ``input(saga_input, results)`` returns the step's input; ``results``
            maps the names of earlier steps to their results.
        compensate_on: ``attempt`` (default) registers the compensation before the
            action runs; ``success`` only after it succeeded (atomic actions only).
        pivot: The point of no return: later steps are retried until they succeed.
        local: Run as a local activity.
        options: Activity options for the action (retry policy, timeouts, ...).
        compensation_options: Activity options for the compensation.
        probe: The activity asked whether the action took effect when its outcome
            is unknown (see `Saga.step`).
        ambiguous: ApplicationError types of the action that leave its outcome unknown.

    Returns:
        The step declaration, to assign to a class attribute.
    """
    return SagaStep(
        action,
        compensate=compensate,
        input=input,
        compensate_on=compensate_on,
        pivot=pivot,
        local=local,
        options=options,
        compensation_options=compensation_options,
        probe=probe,
        ambiguous=ambiguous,
    )


@dataclass(frozen=True)
class _SagaConfig:
    name: str
    key: Callable[[Any], str] | None
    policy: CompensationPolicy
    park_on_failure: bool
    action_options: StepOptions | None
    compensation_options: StepOptions | None
    search_attributes: bool
    audit_log: bool


def saga_workflow(
    *,
    name: str,
    workflow_name: str | None = None,
    key: Callable[[Any], str] | None = None,
    input_type: Any = None,
    policy: CompensationPolicy = CompensationPolicy.SEQUENTIAL,
    park_on_failure: bool = True,
    action_options: StepOptions | None = None,
    compensation_options: StepOptions | None = None,
    search_attributes: bool = True,
    audit_log: bool = True,
) -> Callable[[C], C]:
    """Turn a class of `step` attributes into a Temporal workflow running them as a saga.

    The workflow's ``run`` takes the saga input and runs the steps in declaration
    order through one `Saga`. It returns a dict of step results by step name, or, when
    the class defines ``result(self, saga_input, results)``, what that returns.

    Example:
        ```python
        @saga_workflow(name="book-trip", key=lambda trip: trip.trip_id)
        class BookTrip:
            car = step(reserve_car, compensate=cancel_car)
            hotel = step(reserve_hotel, compensate=cancel_hotel)
            charge = step(charge_card, pivot=True)
            notify = step(send_confirmation)
        ```

    Args:
        name: The saga's name (keys, logs, ``SagaName``).
        workflow_name: The Temporal workflow type; defaults to ``name``.
        key: Derives the business key from the saga input; default: the workflow id.
        input_type: The saga input's type, for the data converter; defaults to the
            first step's parameter type.
        policy: How compensations run.
        park_on_failure: Park in NEEDS_ATTENTION when a compensation fails for good.
        action_options: Defaults for every action.
        compensation_options: Defaults for every compensation.
        search_attributes: Upsert ``SagaName``/``SagaStatus``.
        audit_log: Log each transition as an audit event live (see `Saga`).

    Returns:
        A class decorator.

    Raises:
        SagaDefinitionError: When the class breaks a rule of the saga contract.
    """
    config = _SagaConfig(
        name=name,
        key=key,
        policy=policy,
        park_on_failure=park_on_failure,
        action_options=action_options,
        compensation_options=compensation_options,
        search_attributes=search_attributes,
        audit_log=audit_log,
    )

    def decorate(cls: C) -> C:
        steps = _collect_steps(cls)
        _check_pivot_rules(cls.__qualname__, steps)
        hook = getattr(cls, "result", None)
        run = _make_run(cls, config, steps, hook)
        run.__annotations__ = {
            "saga_input": input_type if input_type is not None else _input_type(steps),
            "return": _return_type(hook),
        }
        setattr(cls, "run", workflow.run(run))  # noqa: B010  (C is only known as a type)
        setattr(cls, _STEPS_ATTR, steps)
        setattr(cls, _NAME_ATTR, name)
        return workflow.defn(name=workflow_name or name)(cls)

    return decorate


def saga_steps(cls: type) -> tuple[SagaStep[Any, Any], ...]:
    """Return the steps of a `saga_workflow` class, in order.

    Raises:
        SagaDefinitionError: ``cls`` is not a `saga_workflow` class.
    """
    steps = getattr(cls, _STEPS_ATTR, None)
    if steps is None:
        raise SagaDefinitionError(
            f"{cls.__qualname__} is not a saga class: decorate it with @saga_workflow(name=...)"
        )
    return typing.cast(tuple[SagaStep[Any, Any], ...], steps)


def saga_name(cls: type) -> str:
    """Return the saga name of a `saga_workflow` class."""
    saga_steps(cls)
    return str(getattr(cls, _NAME_ATTR))


# -- compiling ---------------------------------------------------------------------------


def _make_run(
    cls: type,
    config: _SagaConfig,
    steps: tuple[SagaStep[Any, Any], ...],
    hook: Callable[..., Any] | None,
) -> Callable[[Any, Any], Awaitable[Any]]:
    async def run(self: Any, saga_input: Any) -> Any:
        results = await run_steps(config, steps, saga_input)
        return hook(self, saga_input, results) if hook is not None else results

    run.__name__ = "run"
    run.__qualname__ = f"{cls.__qualname__}.run"
    run.__module__ = cls.__module__
    return run


async def run_steps(
    config: _SagaConfig, steps: tuple[SagaStep[Any, Any], ...], saga_input: Any
) -> dict[str, Any]:
    """Run ``steps`` through one `Saga`; return the results by step name."""
    saga = Saga(
        config.name,
        key=config.key(saga_input) if config.key is not None else None,
        policy=config.policy,
        park_on_failure=config.park_on_failure,
        action_options=config.action_options,
        compensation_options=config.compensation_options,
        search_attributes=config.search_attributes,
        audit_log=config.audit_log,
    )
    results: dict[str, Any] = {}
    async with saga:
        for spec in steps:
            action: Any = spec.action
            compensate: Any = spec.compensate
            common: dict[str, Any] = {
                "compensate": compensate,
                "compensate_on": spec.compensate_on,
                "pivot": spec.pivot,
                "local": spec.local,
                "options": spec.options,
                "compensation_options": spec.compensation_options,
                "probe": spec.probe,
                "ambiguous": spec.ambiguous,
            }
            if spec.takes_arg:
                arg = (
                    spec.input(saga_input, types.MappingProxyType(results))
                    if spec.input is not None
                    else saga_input
                )
                results[spec.name] = await saga.step(spec.name, action, arg, **common)
            else:
                results[spec.name] = await saga.step(spec.name, action, **common)
    return results


def _collect_steps(cls: type) -> tuple[SagaStep[Any, Any], ...]:
    found: dict[str, SagaStep[Any, Any]] = {}
    for klass in reversed(cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, SagaStep):
                found[attr] = value
    if not found:
        raise SagaDefinitionError(
            f"saga class {cls.__qualname__} declares no steps: add attributes like "
            "`car = step(reserve_car, compensate=cancel_car)`"
        )
    for spec in found.values():
        _check_step_signatures(f"{cls.__qualname__}.{spec.name}", spec)
    if "run" in vars(cls):
        raise SagaDefinitionError(
            f"saga class {cls.__qualname__} defines `run`; @saga_workflow writes it: "
            "remove yours (use a `result(self, saga_input, results)` method to shape the result)"
        )
    return tuple(found.values())


def _input_type(steps: tuple[SagaStep[Any, Any], ...]) -> Any:
    first = steps[0]
    if first.input is not None or not first.takes_arg:
        return Any
    return _hints(first.action).get(_positional(first.action)[0].name, Any)


def _return_type(hook: Callable[..., Any] | None) -> Any:
    if hook is None:
        return dict[str, Any]
    return _hints(hook).get("return", Any)


# -- checks at class-definition time ---------------------------------------------------------


def _check_pivot_rules(owner: str, steps: tuple[SagaStep[Any, Any], ...]) -> None:
    pivot: str | None = None
    for spec in steps:
        where = f"{owner}.{spec.name}"
        if spec.pivot and pivot is not None:
            raise SagaDefinitionError(
                f"{where}: a second pivot (the first is {pivot!r}); a saga has at most one"
            )
        if spec.compensate is not None and (spec.pivot or pivot is not None):
            position = "is the pivot" if spec.pivot else f"comes after the pivot {pivot!r}"
            raise SagaDefinitionError(
                f"{where} {position} but declares a compensation: steps from the pivot on "
                "are never compensated; drop the compensation or move the step before the pivot"
            )
        if spec.pivot:
            pivot = spec.name


def _check_step_signatures(where: str, spec: SagaStep[Any, Any]) -> None:
    action_params = _positional(spec.action)
    if len(action_params) > 1:
        raise SagaDefinitionError(
            f"{where}: action {_fn_name(spec.action)} takes {len(action_params)} positional "
            "parameters; a step action takes one (the step input) or none"
        )
    if spec.input is not None and not action_params:
        raise SagaDefinitionError(
            f"{where}: `input=` maps an input for {_fn_name(spec.action)}, which takes none"
        )
    if spec.compensate is None:
        if spec.compensation_options is not None:
            raise SagaDefinitionError(
                f"{where}: compensation_options given without a compensation; drop them"
            )
        return
    comp_params = _positional(spec.compensate)
    n = len(action_params)
    if len(comp_params) not in (n, n + 1):
        raise SagaDefinitionError(
            f"{where}: compensation {_fn_name(spec.compensate)} takes {len(comp_params)} "
            f"positional parameters; it must take the action's {n} argument(s), optionally "
            "followed by the action's result"
        )
    action_hints, comp_hints = _hints(spec.action), _hints(spec.compensate)
    if n and not _accepts(
        comp_hints.get(comp_params[0].name), action_hints.get(action_params[0].name)
    ):
        raise SagaDefinitionError(
            f"{where}: compensation {_fn_name(spec.compensate)} takes "
            f"{_type_name(comp_hints.get(comp_params[0].name))} but action "
            f"{_fn_name(spec.action)} takes {_type_name(action_hints.get(action_params[0].name))}"
            "; the compensation receives the action's argument, so give it the same type"
        )
    if len(comp_params) == n + 1:
        wanted = comp_hints.get(comp_params[n].name)
        result = action_hints.get("return")
        if not _accepts(wanted, result) or not _accepts(wanted, type(None)):
            raise SagaDefinitionError(
                f"{where}: compensation {_fn_name(spec.compensate)} takes the result as "
                f"{_type_name(wanted)}, but action {_fn_name(spec.action)} returns "
                f"{_type_name(result)}; annotate it `{_type_name(result)} | None` (None when "
                "no result was recorded)"
            )


def _positional(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError) as err:
        raise SagaDefinitionError(
            f"cannot read the signature of {_fn_name(fn)}: {err}; pass an activity function"
        ) from err
    return [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # unresolvable forward references: skip the type comparison
        return {}


def _accepts(wanted: Any, given: Any) -> bool:
    """Whether a parameter annotated ``wanted`` accepts a value of type ``given``.

    Only plain classes and unions of them are compared; anything else (Any, generics,
    missing annotations) is accepted, and left to mypy.
    """
    if wanted is None or given is None or wanted is Any or given is Any:
        return True
    if typing.get_origin(given) in (typing.Union, types.UnionType):
        return all(_accepts(wanted, member) for member in typing.get_args(given))
    if typing.get_origin(wanted) in (typing.Union, types.UnionType):
        return any(_accepts(member, given) for member in typing.get_args(wanted))
    if isinstance(wanted, type) and isinstance(given, type):
        return wanted is object or issubclass(given, wanted)
    return True


def _type_name(tp: Any) -> str:
    if tp is None:
        return "an unannotated parameter"
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def _fn_name(fn: Any) -> str:
    return str(getattr(fn, "__name__", repr(fn)))
