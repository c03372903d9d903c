"""``sagas validate`` and ``sagas graph``: check saga definitions and draw them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click


@dataclass(frozen=True)
class GraphStep:
    """What a diagram shows of one step."""

    name: str
    action: str
    compensation: str | None
    pivot: bool


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--activities",
    "activities_ref",
    metavar="MODULE:ATTR",
    help="A list of activity functions (as given to the Worker) to check activity names against.",
)
def validate(files: tuple[str, ...], activities_ref: str | None) -> None:
    """Validate saga definition FILES (YAML or JSON) before any worker runs them.

    Every problem is printed with its file, line, path inside the definition and a
    hint. Exits 1 when any file is invalid.
    """
    from temporal_sagas.definitions._definition import (
        InvalidDefinitionError,
        check_activities,
        load_definition,
    )
    from temporal_sagas.definitions._workflow import activity_names

    names = activity_names(_import(activities_ref)) if activities_ref else None
    failed = False
    for file in files:
        try:
            definition = load_definition(file)
            if names is not None:
                issues = check_activities(definition, names, source=file)
                if issues:
                    raise InvalidDefinitionError(issues)
        except InvalidDefinitionError as err:
            failed = True
            for issue in err.issues:
                click.echo(f"error: {issue}", err=True)
            continue
        click.echo(
            f"ok: {file}: {definition.ref}, {len(definition.steps)} steps, "
            f"hash {definition.content_hash[:12]}"
        )
    if failed:
        raise SystemExit(1)


@click.command("graph")
@click.argument("target")
def graph(target: str) -> None:
    """Print a Mermaid diagram of a saga: TARGET is a definition file or MODULE:Class."""
    click.echo(mermaid(_graph_steps(target)))


def mermaid(steps: list[GraphStep]) -> str:
    """A Mermaid flowchart: steps in order, dotted edges to compensations, the pivot marked."""
    lines = ["flowchart LR", "    start((start))"]
    previous = "start"
    for index, spec in enumerate(steps):
        node = f"s{index}"
        label = f"{spec.name}<br/>{spec.action}"
        if spec.pivot:
            lines.append(f'    {node}{{{{"{label}<br/>pivot: no return"}}}}')
        else:
            lines.append(f'    {node}["{label}"]')
        lines.append(f"    {previous} --> {node}")
        if spec.compensation is not None:
            lines.append(f'    {node}_undo(["{spec.compensation}"])')
            lines.append(f"    {node} -. compensate .-> {node}_undo")
        previous = node
    lines.append("    done((done))")
    lines.append(f"    {previous} --> done")
    return "\n".join(lines)


def _graph_steps(target: str) -> list[GraphStep]:
    from temporal_sagas.definitions._definition import load_definition
    from temporal_sagas.workflows._declarative import saga_steps

    if ":" not in target or Path(target).exists():
        definition = load_definition(target)
        return [GraphStep(s.name, s.action, s.compensation, s.pivot) for s in definition.steps]
    cls = _import(target)
    if not isinstance(cls, type):
        raise click.BadParameter(f"{target} is not a class", param_hint="TARGET")
    return [
        GraphStep(
            s.name,
            _name(s.action),
            _name(s.compensate) if s.compensate is not None else None,
            s.pivot,
        )
        for s in saga_steps(cls)
    ]


def _name(fn: Any) -> str:
    defn = getattr(fn, "__temporal_activity_definition", None)
    return str(getattr(defn, "name", None) or getattr(fn, "__name__", fn))


def _import(ref: str) -> Any:
    from temporal_sagas._targets import resolve

    return resolve(ref, option="MODULE:ATTR reference")
