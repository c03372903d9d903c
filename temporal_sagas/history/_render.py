"""Draw a `SagaState` as a terminal timeline: forward lane, compensation lane, what runs now.

Rendering is deterministic (fixed width, no colour, times relative to the saga's
start) so snapshot tests can compare it byte for byte.
"""

from __future__ import annotations

import io
from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from temporal_sagas._models import (
    CompensationStatus,
    FailureInfo,
    SagaState,
    StepStatus,
)

_STEP_MARK = {
    StepStatus.SCHEDULED: "…",
    StepStatus.COMPLETED: "✓",
    StepStatus.FAILED: "✗",
    StepStatus.CANCELLED: "⊘",
}
_COMP_MARK = {
    CompensationStatus.REGISTERED: "·",
    CompensationStatus.SCHEDULED: "…",
    CompensationStatus.COMPLETED: "↺",
    CompensationStatus.FAILED: "✗",
    CompensationStatus.SKIPPED: "»",
    CompensationStatus.RESOLVED: "≡",
    CompensationStatus.NOT_NEEDED: "-",
}


def render_saga(state: SagaState, *, width: int = 110) -> str:
    """Return the saga as plain text: header, forward lane, compensation lane, now.

    Args:
        state: The saga, live or rebuilt from history.
        width: The console width in characters.
    """
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, force_terminal=False, highlight=False
    )
    console.print(_header(state))
    console.print(_forward_lane(state))
    compensations = _compensation_lane(state)
    if compensations is not None:
        console.print(compensations)
    if state.operator_actions:
        console.print(_operator_lane(state))
    console.print(Text(_now_line(state)))
    # Tables pad every cell to the column width; trailing blanks only add noise.
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def _header(state: SagaState) -> Text:
    lines = [
        f"saga {state.name}  key {state.key}  status {state.status.value}",
        f"workflow {state.workflow_id}  run {state.run_id}",
        f"policy {state.policy.value}  started {state.started_at.isoformat()}"
        + (f"  took {_secs(state.started_at, state.closed_at)}" if state.closed_at else ""),
    ]
    if state.failure is not None:
        lines.append(f"failure {_failure(state.failure)}")
    if state.cancel_requested:
        lines.append("cancel requested")
    return Text("\n".join(lines))


def _forward_lane(state: SagaState) -> Table:
    table = Table(title="forward", title_justify="left", expand=False, show_edge=False)
    for column in ("", "step", "activity", "at", "took", "note"):
        table.add_column(column, overflow="fold")
    for step in state.steps:
        note = []
        if step.pivot:
            note.append("pivot")
        if step.after_pivot:
            note.append("after pivot")
        if step.failure is not None:
            note.append(_failure(step.failure))
        table.add_row(
            _STEP_MARK[step.status],
            step.name,
            step.activity,
            _offset(state.started_at, step.scheduled_at),
            _secs(step.scheduled_at, step.closed_at) if step.closed_at else "",
            "; ".join(note),
        )
    return table


def _compensation_lane(state: SagaState) -> Table | None:
    registered = [s for s in reversed(state.steps) if s.compensation is not None]
    if not registered:
        return None
    table = Table(
        title="compensation (newest first)", title_justify="left", expand=False, show_edge=False
    )
    for column in ("", "step", "compensation", "status", "rounds", "note"):
        table.add_column(column, overflow="fold")
    for step in registered:
        comp = step.compensation
        assert comp is not None
        note = comp.reason or (_failure(comp.failure) if comp.failure else "")
        table.add_row(
            _COMP_MARK[comp.status],
            step.name,
            comp.activity,
            comp.status.value,
            str(comp.rounds),
            note,
        )
    return table


def _operator_lane(state: SagaState) -> Table:
    table = Table(title="operator actions", title_justify="left", show_edge=False)
    for column in ("at", "action", "step", "operator", "identity", "reason"):
        table.add_column(column, overflow="fold")
    for action in state.operator_actions:
        # Only a key the worker verified names the operator; anything else is shown
        # as the caller's unverified claim.
        table.add_row(
            _offset(state.started_at, action.at),
            action.action,
            action.step or "",
            action.operator_label,
            action.identity or "",
            action.reason or "",
        )
    return table


def _now_line(state: SagaState) -> str:
    if state.status.is_terminal:
        return f"now: closed {state.status.value}"
    if state.parked_steps:
        return (
            f"now: parked on {', '.join(state.parked_steps)}; waiting for an operator "
            "(sagas retry|skip|resolve)"
        )
    running = [f"step {s.name}" for s in state.steps if s.status is StepStatus.SCHEDULED]
    running += [
        f"compensation of {s.name}"
        for s in state.steps
        if s.compensation is not None and s.compensation.status is CompensationStatus.SCHEDULED
    ]
    return f"now: {state.status.value}: " + (", ".join(running) or "between steps")


def _failure(failure: FailureInfo) -> str:
    cause = f" ({failure.causes[0]})" if failure.causes else ""
    return f"{failure.type}: {failure.message}{cause}"


def _offset(start: datetime, at: datetime) -> str:
    return f"+{(at - start).total_seconds():.3f}s"


def _secs(start: datetime, end: datetime | None) -> str:
    return "" if end is None else f"{(end - start).total_seconds():.3f}s"
