"""Audit sinks: each event id once, reconciliation to the history, redaction on the way."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas import flush_audit_log
from temporal_sagas._models import SagaEvent, SagaEventKind, SagaStatus
from temporal_sagas.audit import JsonlAuditSink, reconcile
from temporal_sagas.audit._events import AuditEvent, SagaIdentity, build_audit_trail
from temporal_sagas.audit._processors import REDACTED, Redactor
from temporal_sagas.history import audit_trail
from temporal_sagas.postgres import PostgresAuditSink
from tests.activities import audit_secrets
from tests.activities.postgres import scratch_database
from tests.history.audit_support import audit_logging, closed_history, same_events

AT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def trail(run_id: str = "run-1", count: int = 4) -> list[AuditEvent]:
    kinds = [
        SagaEventKind.SAGA_STARTED,
        SagaEventKind.STEP_SCHEDULED,
        SagaEventKind.STEP_COMPLETED,
        SagaEventKind.SAGA_CLOSED,
    ]
    timeline = [
        SagaEvent(
            kind=kinds[i % 4],
            event_id=f"{run_id}/{3 + i}.0",
            at=AT,
            step=None if kinds[i % 4] in (kinds[0], kinds[3]) else "reserve",
            status=SagaStatus.RUNNING,
        )
        for i in range(count)
    ]
    identity = SagaIdentity(
        saga="s", saga_key="k", workflow_id="w", run_id=run_id, correlation_id="w"
    )
    return build_audit_trail(timeline, identity=identity, step_keys={"reserve": "s/k/reserve"})


def test_jsonl_sink_keeps_each_event_id_once_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    events = trail()
    first = JsonlAuditSink(path)
    for event in events[:3]:
        first.write(event)
    restarted = JsonlAuditSink(path)  # a new worker process on the same file
    for event in events:
        restarted.write(event)
    assert restarted.stored("run-1") == events


def test_jsonl_sink_creates_its_file_for_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"

    JsonlAuditSink(path).write(trail()[0])

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_jsonl_sink_rewrites_keep_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path)
    sink.write(trail()[0])

    sink.replace_run("run-1", trail())

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_jsonl_sink_forces_each_line_to_disk_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))

    for event in trail(count=3):
        JsonlAuditSink(tmp_path / "durable.jsonl").write(event)
    durable = len(synced)
    for event in trail(count=3):
        JsonlAuditSink(tmp_path / "fast.jsonl", fsync=False).write(event)

    assert durable == 3
    assert len(synced) == 3


def test_reconcile_fills_gaps_drops_phantoms_and_fixes_altered_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    events, other_run = trail(), trail("run-2", 2)
    sink = JsonlAuditSink(path)
    phantom = events[2].model_copy(update={"event_id": "run-1/99.0"})
    altered = events[1].model_copy(update={"detail": "forged"})
    for event in [other_run[0], events[0], altered, phantom, other_run[1]]:
        sink.write(event)

    report = reconcile(sink, events)

    assert report.added == (events[2].event_id, events[3].event_id)
    assert report.replaced == (events[1].event_id,)
    assert report.removed == ("run-1/99.0",)
    assert sink.stored("run-1") == events
    assert sink.stored("run-2") == other_run


def test_reconcile_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    sink = JsonlAuditSink(tmp_path / "audit.jsonl")
    events = trail()
    sink.write(events[0])
    reconcile(sink, events)
    before = sink.path.read_text()
    report = reconcile(sink, events)
    assert (report.added, report.replaced, report.removed) == ((), (), ())
    assert sink.path.read_text() == before


@pytest.fixture
def postgres_sink() -> Iterator[PostgresAuditSink]:
    with scratch_database() as dsn:
        sink = PostgresAuditSink(dsn, table=f"audit_{uuid.uuid4().hex[:8]}")
        try:
            yield sink
        finally:
            sink.close()
            sink.drop_table()


def test_postgres_sink_keeps_each_event_id_once_and_reconciles(
    postgres_sink: PostgresAuditSink,
) -> None:
    events = trail()
    for event in [events[0], events[1], events[1], events[0]]:
        postgres_sink.write(event)
    postgres_sink.flush()
    assert postgres_sink.stored("run-1") == events[:2]

    report = reconcile(postgres_sink, events)

    assert report.added == (events[2].event_id, events[3].event_id)
    assert postgres_sink.stored("run-1") == events
    assert reconcile(postgres_sink, events).added == ()


def test_redactor_masks_secret_values_and_configured_keys_at_any_depth() -> None:
    redact = Redactor(extra_keys=["iban"])
    event = redact(
        None,
        "info",
        {
            "event": "x",
            "token": "t1",
            "nested": {"list": [{"IBAN": "DE00"}, SecretStr("s1")]},
            "keep": "visible",
        },
    )
    assert event == {
        "event": "x",
        "token": REDACTED,
        "nested": {"list": [{"IBAN": REDACTED}, "**********"]},
        "keep": "visible",
    }


def test_redactor_leaves_digit_runs_inside_hex_digests_alone() -> None:
    # A real audit event hash from a chaos run: "1657993391495" passes the Luhn check.
    digest = "c4abbbbc15386eb1657993391495c122232140fdbe171edaf4ec71c60d59e607"
    redact = Redactor()
    event = redact(None, "info", {"hash": digest, "error": "card 4111111111111111 declined"})
    assert event == {"hash": digest, "error": "card [REDACTED CARD] declined"}


async def test_secrets_in_saga_input_and_step_result_never_reach_log_or_sinks(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    tmp_path: Path,
    postgres_sink: PostgresAuditSink,
) -> None:
    client, wid = saga_dev_env.client, f"pay-{uuid.uuid4().hex[:8]}"
    payment = audit_secrets.Payment(
        order=wid, api_token=SecretStr(audit_secrets.INPUT_TOKEN), card_number=audit_secrets.CARD
    )
    with audit_logging(tmp_path / "audit.jsonl", postgres_sink) as captured:
        async with Worker(
            client,
            task_queue=saga_task_queue,
            workflows=[audit_secrets.PaySaga],
            activities=[audit_secrets.charge, audit_secrets.refund],
        ):
            handle = await client.start_workflow(
                audit_secrets.PaySaga.run, payment, id=wid, task_queue=saga_task_queue
            )
            history = await closed_history(handle)
        flush_audit_log()  # the engine's writer thread, then the sink's own
        postgres_sink.flush()

    text = captured.stream.getvalue() + captured.sink.path.read_text()
    text += "".join(e.canonical_json() for e in postgres_sink.stored(history.run_id))
    assert '"event": "charged"' in text  # the user's log line got through
    assert f'"order": "{wid}"' in text
    for secret in (audit_secrets.INPUT_TOKEN, audit_secrets.CARD, audit_secrets.RESULT_TOKEN):
        assert secret not in text
    same_events(postgres_sink.stored(history.run_id), audit_trail(history))
