"""`DefinitionSaga`: one workflow that runs any registered data-style definition.

How the workflow sees the definitions a worker registered: the workflow sandbox
re-imports user modules for every run, but ``temporal_sagas`` is passed through by
`SagaPlugin`, so the sandboxed `DefinitionSaga` reads the very same module-level
`DEFINITIONS` registry object that worker start-up code filled in. Definitions are
plain frozen data, and the registry refuses to change a registered (name, version),
so sharing it across runs is safe.

Each run records the definition's content hash in its history (as a patch marker).
A run replayed against a changed definition under the same name and version does not
drift: its workflow task fails with a message naming the definition, and the saga
waits, open and visible, with nothing lost, until the original content is deployed
again (changes belong in a new version). Failing the whole workflow instead would
abandon the compensations of the steps already done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from temporal_sagas._contract import SAGA_DEFINITION_NOT_FOUND, SAGA_INPUT_ERROR
from temporal_sagas._errors import SagaDefinitionError
from temporal_sagas.definitions._definition import (
    DefinitionIssue,
    InvalidDefinitionError,
    SagaDefinition,
    check_activities,
    load_definition,
)
from temporal_sagas.definitions._schemas import Unresolvable, validator
from temporal_sagas.workflows._options import StepOptions
from temporal_sagas.workflows._saga import Saga

with workflow.unsafe.imports_passed_through():
    import jmespath


class DefinitionSagaInput(BaseModel):
    """What starts a data-style saga: which definition, and the saga input.

    Attributes:
        name: The definition's name.
        version: The definition's version.
        input: The saga input (any JSON value), validated against ``input_schema``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int = Field(ge=1)
    input: Any = None


class DefinitionRegistry:
    """Definitions by (name, version), as a worker registered them.

    A registered (name, version) never changes: registering different content under
    it is an error (bump the version instead), so sagas in flight keep their steps.
    """

    def __init__(self) -> None:
        self._definitions: dict[tuple[str, int], SagaDefinition] = {}

    def register(self, definition: SagaDefinition | str | Path) -> SagaDefinition:
        """Register a definition (or load and register a file); idempotent for equal content.

        Raises:
            InvalidDefinitionError: The file is not a valid definition.
            SagaDefinitionError: Other content is already registered under its name and version.
        """
        if not isinstance(definition, SagaDefinition):
            definition = load_definition(definition)
        slot = (definition.name, definition.version)
        current = self._definitions.get(slot)
        if current is not None and current.content_hash != definition.content_hash:
            raise SagaDefinitionError(
                f"saga definition {definition.ref} is already registered with other content "
                f"(hash {current.content_hash[:12]}, new {definition.content_hash[:12]}): "
                "bump `version` for a changed definition; running sagas keep theirs"
            )
        self._definitions[slot] = definition
        return definition

    def unregister(self, name: str, version: int) -> None:
        """Forget a definition (sagas still running on it will stop at their next replay)."""
        self._definitions.pop((name, version), None)

    def get(self, name: str, version: int) -> SagaDefinition | None:
        """The definition registered as ``name`` and ``version``, if any."""
        return self._definitions.get((name, version))

    def __iter__(self) -> Iterator[SagaDefinition]:
        return iter(list(self._definitions.values()))

    def __len__(self) -> int:
        return len(self._definitions)


#: The registry `DefinitionSaga` reads. Fill it at worker start-up, before polling.
DEFINITIONS = DefinitionRegistry()


def register_definition(definition: SagaDefinition | str | Path) -> SagaDefinition:
    """Register a definition (or a definition file) in `DEFINITIONS`."""
    return DEFINITIONS.register(definition)


def activity_names(activities: Sequence[Callable[..., Any]]) -> set[str] | None:
    """Names of the activities a worker registers; None if one is dynamic (any name)."""
    names: set[str] = set()
    for fn in activities:
        defn = getattr(fn, "__temporal_activity_definition", None)
        if defn is None:
            raise SagaDefinitionError(
                f"{getattr(fn, '__name__', fn)!r} is not an activity: decorate it with "
                "@activity.defn"
            )
        if defn.name is None:
            return None
        names.add(defn.name)
    return names


def validate_definitions(
    definitions: Iterable[SagaDefinition] | None = None,
    activities: Sequence[Callable[..., Any]] = (),
) -> None:
    """Check at worker start-up that every definition's activities are registered.

    Args:
        definitions: The definitions to check; by default all of `DEFINITIONS`.
        activities: The activity callables given to the ``Worker``.

    Raises:
        InvalidDefinitionError: A step names an activity the worker does not have.
    """
    names = activity_names(activities)
    if names is None:
        return
    issues: list[DefinitionIssue] = []
    for definition in DEFINITIONS if definitions is None else definitions:
        issues += check_activities(definition, names)
    if issues:
        raise InvalidDefinitionError(issues)


@workflow.defn(name="DefinitionSaga")
class DefinitionSaga:
    """Runs the registered definition named in its input, step by step, through `Saga`."""

    @workflow.run
    async def run(self, request: DefinitionSagaInput) -> Any:
        """Run the saga ``request.name`` version ``request.version`` on ``request.input``.

        Returns:
            The definition's ``output`` expression evaluated over ``{input, steps}``,
            or the step results by step name.

        Raises:
            ApplicationError: ``SagaInputError`` (before any step) when the input does
                not fit; ``SagaDefinitionNotFound``; ``SagaCompensated`` as any saga.
        """
        definition = _definition_for(request)
        _check_input(definition, request.input)
        key = _key(definition, request.input)
        defaults = definition.defaults
        saga = Saga(
            definition.name,
            key=key,
            policy=definition.policy,
            park_on_failure=definition.park_on_failure,
            search_attributes=definition.search_attributes,
            audit_log=definition.audit_log,
            action_options=_options(defaults.action),
            compensation_options=_options(defaults.compensation),
        )
        results: dict[str, Any] = {}
        async with saga:
            for spec in definition.steps:
                arg = jmespath.search(spec.input, {"input": request.input, "steps": results})
                results[spec.name] = await saga.step(
                    spec.name,
                    spec.action,
                    arg,
                    result_type=object,
                    compensate=spec.compensation,
                    compensate_with_result=spec.compensate_with_result,
                    compensate_on=spec.compensate_on,
                    pivot=spec.pivot,
                    local=spec.local,
                    options=_options(spec.options),
                    compensation_options=_options(spec.compensation_options),
                    probe=spec.probe,
                    ambiguous=spec.ambiguous,
                )
        if definition.output is None:
            return results
        return jmespath.search(definition.output, {"input": request.input, "steps": results})


def _definition_for(request: DefinitionSagaInput) -> SagaDefinition:
    definition = DEFINITIONS.get(request.name, request.version)
    replaying = workflow.unsafe.is_replaying()
    if definition is None:
        message = (
            f"no saga definition {request.name}@v{request.version} is registered on this "
            "worker: register it with register_definition() before the worker starts"
        )
        if replaying:  # a worker missing it: fail the task and resume once it is deployed
            raise SagaDefinitionError(message)
        raise ApplicationError(message, type=SAGA_DEFINITION_NOT_FOUND, non_retryable=True)
    marker = f"saga-definition/{definition.ref}/{definition.content_hash[:16]}"
    if not workflow.patched(marker):
        # Only a replay can get here: the history holds another hash. Failing the
        # workflow task (not the workflow) keeps the saga and its compensations intact:
        # it waits, visibly, until the original definition is deployed again.
        raise SagaDefinitionError(
            f"saga definition {definition.ref} changed while this saga was running: the "
            f"registered content (hash {definition.content_hash[:12]}) is not the content "
            "the saga started with. Restore the original definition to let the saga resume, "
            "and publish changes under a new version"
        )
    return definition


def input_problems(definition: SagaDefinition, value: Any) -> str | None:
    """What is wrong with ``value`` as the input of ``definition``, or None if it fits.

    The same checks run in the workflow (before any step) and in ``sagas start``
    (before anything starts): the ``input_schema`` (whose references are never
    fetched), and a ``key`` expression that must give a non-empty string.
    """
    if definition.input_schema is not None:
        # A validator that never fetches: in the workflow a fetch would fail the task on
        # every attempt; here, an unresolvable reference fails the input instead.
        try:
            errors = sorted(
                validator(definition.input_schema).iter_errors(value), key=lambda e: list(e.path)
            )
        except Unresolvable as err:
            return f"its input_schema has a reference that cannot be resolved: {err}"
        except RecursionError:
            return "it is nested too deeply to check against the input_schema"
        if errors:
            listed = "; ".join(f"{e.json_path}: {e.message}" for e in errors[:5])
            return f"it does not match the input_schema: {listed}"
    if definition.key is not None:
        key = jmespath.search(definition.key, {"input": value})
        if not isinstance(key, str | int) or isinstance(key, bool) or key == "":
            return f"its key {definition.key!r} gives {key!r}; it must give a non-empty string"
    return None


def _check_input(definition: SagaDefinition, value: Any) -> None:
    problems = input_problems(definition, value)
    if problems is not None:
        raise ApplicationError(
            f"input of saga {definition.ref}: {problems}",
            type=SAGA_INPUT_ERROR,
            non_retryable=True,
        )


def _key(definition: SagaDefinition, value: Any) -> str | None:
    if definition.key is None:
        return None
    return str(jmespath.search(definition.key, {"input": value}))


def _options(spec: Any) -> StepOptions | None:
    return None if spec is None else spec.to_step_options()
