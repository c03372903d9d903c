"""``sagas start``: start a saga from the command line, its input checked first.

The saga is found by name in a `SagaApp` (``--app``, as ``sagas worker`` takes it) or
in definition files (``--definition``): a saga class (its workflow type name or its
saga name) or a YAML/JSON definition (``NAME@VERSION``). The input is validated
against the class's input model or the definition's ``input_schema`` before anything
is sent to Temporal, so a typo never reaches a running saga. The start itself is
`start_saga`'s: the id is the business key, and starting twice returns the running
saga instead of a second one.
"""

from __future__ import annotations

import contextlib
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from temporal_sagas._errors import SagaInputError
from temporal_sagas.cli._connection import connect, connection_from, connection_options, run

if TYPE_CHECKING:
    from temporal_sagas.definitions import SagaDefinition
    from temporal_sagas.workers import SagaApp


@dataclass(frozen=True)
class StartPlan:
    """What to start: the workflow (run method or type name), its argument, its saga name."""

    workflow: Any
    arg: Any
    saga_name: str
    task_queue: str | None


@click.command()
@click.argument("name", metavar="NAME[@VERSION]")
@click.option(
    "--input",
    "input_text",
    default="null",
    show_default=True,
    help="The saga input as JSON, or @FILE to read it from a file.",
)
@click.option("--id", "workflow_id", required=True, help="The business key: the workflow id.")
@click.option("--task-queue", help="Where the saga's worker polls. [default: the app's]")
@click.option(
    "--app",
    envvar="SAGAS_APP",
    help="The SagaApp (or saga class) that has NAME, as module:attribute. [env SAGAS_APP]",
)
@click.option(
    "--app-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Import --app from this directory first. [default: the working directory]",
)
@click.option(
    "--definition",
    "definition_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A YAML/JSON definition file that has NAME. Repeatable.",
)
@click.option("--wait", is_flag=True, help="Wait for the saga to close and print its result.")
@connection_options
def start(
    name: str,
    input_text: str,
    workflow_id: str,
    task_queue: str | None,
    app: str | None,
    app_dir: Path | None,
    definition_files: tuple[Path, ...],
    wait: bool,
    **flags: Any,
) -> None:
    """Start the saga NAME with --input, once per --id; the input is checked first.

    NAME is a saga class's workflow type or saga name, or a definition's name
    (NAME@VERSION when several versions are known). Exits 1 without starting
    anything when the input does not fit. With --wait, prints the result as JSON,
    or the failure, and exits 1 unless the saga completed.
    """
    value = _read_input(input_text)
    plan = plan_start(
        name, value, app=_load_app(app, app_dir) if app else None, files=definition_files
    )
    queue = task_queue or plan.task_queue
    if queue is None:
        raise click.UsageError("give --task-queue (or --app, whose task queue is used)")
    conn = connection_from(flags)
    code = run(_start(plan, workflow_id=workflow_id, task_queue=queue, conn=conn, wait=wait))
    if code:
        raise SystemExit(code)


def plan_start(
    name: str, value: Any, *, app: SagaApp | type | None, files: tuple[Path, ...] = ()
) -> StartPlan:
    """Find saga ``name`` and check ``value`` against its input; nothing is sent anywhere.

    Raises:
        SagaInputError: No saga has that name, or ``value`` does not fit its input.
    """
    base, _, version_text = name.partition("@")
    version = _version(version_text, name) if version_text else None
    definitions = _definitions(app, files)
    classes = _classes(app)
    chosen = [d for d in definitions if d.name == base and version in (None, d.version)]
    if chosen:
        return _definition_plan(chosen, name, value, _task_queue(app))
    for cls in classes:
        if base in _class_names(cls):
            return _class_plan(cls, value, _task_queue(app))
    known = sorted({n for c in classes for n in _class_names(c)} | {d.ref for d in definitions})
    where = "the --app and --definition given" if (app or files) else "nothing: give --app"
    raise SagaInputError(
        f"no saga named {name!r} in {where}"
        + (f"; known: {', '.join(known)}" if known else "")
        + " (a saga class's workflow type or saga name, or a definition's NAME@VERSION)"
    )


def _read_input(text: str) -> Any:
    source = "--input"
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise SagaInputError(f"--input {text[:1]}{path}: cannot read it ({err})") from None
        source = f"--input file {path}"
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SagaInputError(
            f"{source} is not JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None


def _version(text: str, name: str) -> int:
    if not text.isdigit():
        raise SagaInputError(f"{name!r}: the version after '@' must be a number, as in trip@1")
    return int(text)


def _load_app(reference: str, app_dir: Path | None) -> SagaApp | type:
    from temporal_sagas._targets import resolve
    from temporal_sagas.workers import SagaApp

    target = resolve(reference, option="--app", app_dir=app_dir)
    if _is_workflow(target):
        return typing.cast(type, target)
    if callable(target):
        target = target()
    if not isinstance(target, SagaApp):
        raise SagaInputError(f"--app {reference} is neither a SagaApp nor a saga workflow class")
    return target


def _is_workflow(value: Any) -> bool:
    return isinstance(value, type) and hasattr(value, "__temporal_workflow_definition")


def _classes(app: SagaApp | type | None) -> list[type]:
    if app is None:
        return []
    return [app] if isinstance(app, type) else list(app.sagas)


def _task_queue(app: SagaApp | type | None) -> str | None:
    return None if app is None or isinstance(app, type) else app.task_queue


def _definitions(app: SagaApp | type | None, files: tuple[Path, ...]) -> list[SagaDefinition]:
    listed = [] if app is None or isinstance(app, type) else list(app.definitions)
    if not listed and not files:
        return []
    from temporal_sagas.definitions import SagaDefinition, load_definition

    loaded = [d if isinstance(d, SagaDefinition) else load_definition(d) for d in listed]
    return loaded + [load_definition(path) for path in files]


def _class_names(cls: type) -> set[str]:
    from temporal_sagas.workflows._declarative import saga_name

    names = {cls.__temporal_workflow_definition.name}  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):  # a hand-written saga class declares no saga name
        names.add(saga_name(cls))
    return names


def _class_plan(cls: type, value: Any, task_queue: str | None) -> StartPlan:
    from pydantic import TypeAdapter, ValidationError

    from temporal_sagas.workers._converter import validation_problems

    defn = cls.__temporal_workflow_definition  # type: ignore[attr-defined]
    arg_types = list(defn.arg_types or [])
    arg: Any = value
    if arg_types:
        try:
            arg = TypeAdapter(arg_types[0]).validate_python(value)
        except ValidationError as err:
            raise SagaInputError(
                f"the input does not fit {defn.name}'s {err.title}: "
                f"{validation_problems(err)}; nothing started"
            ) from None
    return StartPlan(workflow=defn.run_fn, arg=arg, saga_name=defn.name, task_queue=task_queue)


def _definition_plan(
    chosen: list[SagaDefinition], name: str, value: Any, task_queue: str | None
) -> StartPlan:
    from temporal_sagas.definitions import DefinitionSaga, DefinitionSagaInput
    from temporal_sagas.definitions._workflow import input_problems

    versions = sorted({d.version for d in chosen})
    if len(versions) > 1:
        raise SagaInputError(
            f"saga {name!r} has versions {', '.join(map(str, versions))}: name one, as in "
            f"{name}@{versions[-1]}"
        )
    definition = chosen[0]
    problems = input_problems(definition, value)
    if problems:
        raise SagaInputError(
            f"the input does not fit saga {definition.ref}: {problems}; nothing started"
        )
    request = DefinitionSagaInput(name=definition.name, version=definition.version, input=value)
    return StartPlan(
        workflow=DefinitionSaga.run, arg=request, saga_name=definition.name, task_queue=task_queue
    )


async def _start(
    plan: StartPlan, *, workflow_id: str, task_queue: str, conn: Any, wait: bool
) -> int:
    from temporalio.client import WorkflowFailureError
    from temporalio.service import RPCError, RPCStatusCode

    from temporal_sagas._client import start_saga

    client = await connect(conn)
    try:
        handle = await start_saga(
            client,
            plan.workflow,
            plan.arg,
            id=workflow_id,
            task_queue=task_queue,
            saga_name=plan.saga_name,
        )
    except RPCError as err:
        if err.status is not RPCStatusCode.INVALID_ARGUMENT:
            raise
        # The server's own limits (a payload over its blob size): nothing started.
        raise SagaInputError(
            f"Temporal refused to start {workflow_id!r}: {err.message}; nothing started"
        ) from None
    click.echo(
        f"saga {plan.saga_name} runs as workflow {workflow_id} (run {handle.result_run_id}) "
        f"on task queue {task_queue}"
    )
    if not wait:
        return 0
    try:
        result = await handle.result()
    except WorkflowFailureError as err:
        cause = err.cause
        kind = getattr(cause, "type", None) or type(cause).__name__
        click.echo(f"saga {workflow_id} did not complete: {kind}: {cause}", err=True)
        return 1
    click.echo(json.dumps(_plain(result), indent=2, default=str))
    return 0


def _plain(value: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(Any).dump_python(value, mode="json")
