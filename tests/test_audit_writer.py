"""The audit writer: events logged in order, off the submitting thread, flushable, robust."""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from temporal_sagas.audit._writer import AuditWriter


@pytest.fixture
def logged() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """(thread name, event, key-values) of everything structlog logged meanwhile."""
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def record(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        fields = dict(event)
        seen.append((threading.current_thread().name, fields.pop("event"), fields))
        raise structlog.DropEvent

    saved = structlog.get_config()
    structlog.configure(processors=[record], cache_logger_on_first_use=False)
    try:
        yield seen
    finally:
        structlog.configure(**saved)


def test_events_are_logged_in_submission_order_by_the_writer_thread(
    logged: list[tuple[str, str, dict[str, Any]]],
) -> None:
    writer = AuditWriter(name="test-writer")
    for index in range(50):
        writer.submit("step.completed", {"event_id": f"run/4.{index}"})

    assert writer.flush(timeout=10)
    assert [fields["event_id"] for _, _, fields in logged] == [f"run/4.{i}" for i in range(50)]
    assert {thread for thread, _, _ in logged} == {"test-writer"}


def _held_writer(gate: threading.Event) -> AuditWriter:
    """A writer whose thread logs nothing until ``gate`` is set."""
    writer = AuditWriter()
    drain = writer._drain

    def drain_after_gate() -> None:
        gate.wait()
        drain()

    writer._drain = drain_after_gate  # type: ignore[method-assign]
    return writer


def test_flush_waits_for_events_the_writer_has_not_logged_yet(
    logged: list[tuple[str, str, dict[str, Any]]],
) -> None:
    gate = threading.Event()
    writer = _held_writer(gate)
    writer.submit("step.completed", {"event_id": "run/9.0"})
    writer.submit("saga.closed", {"event_id": "run/9.1"})

    assert writer.flush(timeout=0.05) is False
    assert logged == []
    gate.set()
    assert writer.flush(timeout=10) is True
    assert [event for _, event, _ in logged] == ["step.completed", "saga.closed"]


def test_flush_with_nothing_submitted_returns_true_without_a_thread() -> None:
    writer = AuditWriter(name="never-started")

    assert writer.flush(timeout=0) is True
    assert "never-started" not in {t.name for t in threading.enumerate()}


def test_a_failing_pipeline_is_reported_and_the_events_behind_it_are_still_logged(
    logged: list[tuple[str, str, dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        if event["event"] == "step.failed":
            raise RuntimeError("disk full")
        return event

    config = structlog.get_config()
    structlog.configure(processors=[refuse, *config["processors"]])
    writer = AuditWriter()
    with caplog.at_level(logging.ERROR, logger="temporal_sagas.audit"):
        writer.submit("step.failed", {"event_id": "run/7.0"})
        writer.submit("saga.closed", {"event_id": "run/7.1"})
        assert writer.flush(timeout=10)

    assert [event for _, event, _ in logged] == ["saga.closed"]
    (record,) = caplog.records
    assert "run/7.0" in record.getMessage()
    assert "reconcile" in record.getMessage()
    assert record.exc_info is not None
    assert "disk full" in str(record.exc_info[1])


def _log_in_child(writer: AuditWriter, gate: threading.Event, out: Any) -> None:
    gate.set()  # the child's copy: its own writer thread may log at once
    seen: list[str] = []

    def record(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event["event"])
        raise structlog.DropEvent

    structlog.configure(processors=[record], cache_logger_on_first_use=False)
    writer.submit("child", {})
    writer.flush(timeout=10)
    out.put(seen)


def test_a_forked_child_logs_its_own_events_not_those_its_parent_queued(
    logged: list[tuple[str, str, dict[str, Any]]],
) -> None:
    gate = threading.Event()
    writer = _held_writer(gate)
    writer.submit("parent", {})  # queued, held behind the gate at the fork
    context = multiprocessing.get_context("fork")
    out = context.SimpleQueue()
    child = context.Process(target=_log_in_child, args=(writer, gate, out))
    child.start()
    child.join(timeout=30)
    gate.set()

    assert child.exitcode == 0
    assert out.get() == ["child"]
    assert writer.flush(timeout=10)
    assert [event for _, event, _ in logged] == ["parent"]
