"""Helpers for the audit tests: a structlog pipeline with sinks, captured and restored."""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from temporal_sagas import flush_audit_log
from temporal_sagas.audit._events import AUDIT_MARKER, AuditEvent
from temporal_sagas.audit._processors import audit_processors
from temporal_sagas.audit._sinks import AuditSink, JsonlAuditSink, read_jsonl


@dataclass
class Captured:
    """What a worker logged while the pipeline was installed."""

    sink: JsonlAuditSink
    stream: io.StringIO
    threads: list[str]  # the thread each audit event was logged from

    def lines(self) -> list[dict[str, Any]]:
        flush_audit_log()  # the engine's events are logged by a background thread
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def audit_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get(AUDIT_MARKER) is True]

    def sunk(self) -> list[AuditEvent]:
        flush_audit_log()
        if not self.sink.path.exists():
            return []
        return read_jsonl(self.sink.path.read_text().splitlines())


@contextmanager
def audit_logging(
    path: Path, *more_sinks: AuditSink, redact_keys: tuple[str, ...] = ()
) -> Iterator[Captured]:
    """Install replay guard, redaction, a JSONL sink and a JSON renderer; restore after."""
    sink = JsonlAuditSink(path)
    stream = io.StringIO()
    threads: list[str] = []

    def note_thread(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        if event.get(AUDIT_MARKER) is True:
            threads.append(threading.current_thread().name)
        return event

    flush_audit_log()  # events queued before belong to the pipeline they were made under
    saved = structlog.get_config()
    structlog.configure(
        processors=[
            note_thread,
            *audit_processors(sink, *more_sinks, redact_keys=redact_keys),
            structlog.processors.JSONRenderer(default=str),
        ],
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        wrapper_class=structlog.BoundLogger,
        cache_logger_on_first_use=False,
    )
    try:
        yield Captured(sink=sink, stream=stream, threads=threads)
    finally:
        flush_audit_log()  # queued events belong to this pipeline, not the next one
        structlog.configure(**saved)


def same_events(emitted: list[AuditEvent], trail: list[AuditEvent]) -> None:
    """Assert event by event that ``emitted`` is exactly ``trail``."""
    ids = [e.event_id for e in emitted]
    assert len(ids) == len(set(ids)), f"duplicated events: {ids}"
    assert ids == [e.event_id for e in trail], (
        f"emitted {ids} != history {[e.event_id for e in trail]}"
    )
    for got, want in zip(emitted, trail, strict=True):
        assert got == want, f"event {want.event_id} differs"


async def closed_history(handle: Any) -> Any:
    """Wait for the saga's workflow to close, then fetch its history."""
    from temporalio.client import WorkflowFailureError

    with suppress(WorkflowFailureError):
        await handle.result()
    return await handle.fetch_history()


_CLOSES_ACTIVITY = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "completed",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "failed",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "failed",
}
_CLOSES_WORKFLOW = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
}


def audit_kinds_from_events(history: WorkflowHistory) -> Counter[str]:
    """The audit event kinds a saga's raw history implies, counted without the engine.

    One ``saga.started``; per scheduled activity one ``*.scheduled`` and, when the
    server closed it, one ``*.completed`` or ``*.failed`` (``compensation.`` when its
    activity id ends in ``/compensate`` or ``/compensate#N``, else ``step.``); one
    ``saga.closed`` once the execution closed. Parking, operator actions and cancel
    requests are not counted: use it for sagas that did none of them.
    """
    kinds: Counter[str] = Counter()
    phase_of: dict[int, str] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            kinds["saga.started"] += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activity_id = event.activity_task_scheduled_event_attributes.activity_id
            is_undo = activity_id.rsplit("#", 1)[0].endswith("/compensate")
            phase_of[event.event_id] = "compensation" if is_undo else "step"
            kinds[f"{phase_of[event.event_id]}.scheduled"] += 1
        elif event.event_type in _CLOSES_ACTIVITY:
            attributes = getattr(event, event.WhichOneof("attributes") or "")
            phase = phase_of[attributes.scheduled_event_id]
            kinds[f"{phase}.{_CLOSES_ACTIVITY[event.event_type]}"] += 1
        elif event.event_type in _CLOSES_WORKFLOW:
            kinds["saga.closed"] += 1
    return kinds
