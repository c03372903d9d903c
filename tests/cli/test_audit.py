"""`sagas audit`: print the trail from a history, verify and reconcile shipped logs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from temporalio.testing import WorkflowEnvironment

from tests.cli.bounded import assert_refused_history_file, run_sagas
from tests.history.audit_support import audit_logging, closed_history
from tests.history.hostile import HOSTILE_KINDS, hostile_history
from tests.sagas import Script, StepScript, new_id, saga_worker, start

GOLDEN = Path(__file__).parents[1] / "history" / "histories" / "compensated.history.json"
SCRIPT = Script(
    steps=(
        StepScript(name="reserve"),
        StepScript(name="charge"),
        StepScript(name="ship", action="fail"),
    )
)


async def sagas(env: WorkflowEnvironment | None, *args: str) -> Result:
    from temporal_sagas.cli._main import cli

    extra = ["--address", env.client.service_client.config.target_host] if env else []
    result: Any = await asyncio.to_thread(CliRunner().invoke, cli, [*args, *extra])
    return result


async def shipped_log(env: WorkflowEnvironment, queue: str, tmp_path: Path) -> tuple[str, Path]:
    """Run a compensated saga with a JSONL sink; return its id and the shipped log."""
    client, wid = env.client, new_id("cli-audit")
    path = tmp_path / "audit.jsonl"
    with audit_logging(path):
        async with saga_worker(client, queue):
            await closed_history(await start(client, queue, SCRIPT, wid))
    return wid, path


# What the golden compensated saga did (reserve, charge, ship fails, undo newest first),
# written down by hand rather than asked of the code that builds the trail.
GOLDEN_TRAIL = [
    ("saga.started", None),
    ("step.scheduled", "reserve"),
    ("step.completed", "reserve"),
    ("step.scheduled", "charge"),
    ("step.completed", "charge"),
    ("step.scheduled", "ship"),
    ("step.failed", "ship"),
    ("compensation.scheduled", "ship"),
    ("compensation.completed", "ship"),
    ("compensation.scheduled", "charge"),
    ("compensation.completed", "charge"),
    ("compensation.scheduled", "reserve"),
    ("compensation.completed", "reserve"),
    ("saga.closed", None),
]


async def test_audit_json_prints_the_history_trail() -> None:
    result = await sagas(None, "audit", "--history", str(GOLDEN), "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    raw = json.loads(GOLDEN.read_text())["events"]
    run_id = raw[0]["workflowExecutionStartedEventAttributes"]["originalExecutionRunId"]
    task_starts = {
        e["eventId"] for e in raw if e["eventType"] == "EVENT_TYPE_WORKFLOW_TASK_STARTED"
    }

    assert [(line["kind"], line["step"]) for line in lines] == GOLDEN_TRAIL
    assert {line["workflow_id"] for line in lines} == {"golden-compensated"}
    # An event id is <run id>/<WorkflowTaskStarted event id>.<index>: both read off the raw history.
    positions = [line["event_id"].split("/") for line in lines]
    assert {run for run, _ in positions} == {run_id}
    assert {position.split(".")[0] for _, position in positions} <= task_starts
    assert lines[0]["prev_hash"] is None
    assert [line["prev_hash"] for line in lines[1:]] == [line["hash"] for line in lines[:-1]]


async def test_audit_prints_one_line_per_event_with_ids() -> None:
    result = await sagas(None, "audit", "--history", str(GOLDEN))
    assert result.exit_code == 0, result.output
    raw = json.loads(GOLDEN.read_text())["events"]
    run_id = raw[0]["workflowExecutionStartedEventAttributes"]["originalExecutionRunId"]
    columns = [line.split() for line in result.output.splitlines()]
    assert [c[2] for c in columns] == [kind for kind, _ in GOLDEN_TRAIL]
    assert {c[0].split("/")[0] for c in columns} == {run_id}


async def test_verify_accepts_an_untouched_shipped_log(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    wid, path = await shipped_log(saga_dev_env, saga_task_queue, tmp_path)
    result = await sagas(saga_dev_env, "audit", wid, "--verify", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


async def test_verify_names_the_event_of_a_tampered_line(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    wid, path = await shipped_log(saga_dev_env, saga_task_queue, tmp_path)
    lines = path.read_text().splitlines()
    event = json.loads(lines[3])
    event["step"] = "someone-else"  # hash left as it was
    lines[3] = json.dumps(event)
    path.write_text("\n".join(lines) + "\n")

    result = await sagas(saga_dev_env, "audit", wid, "--verify", str(path))

    assert result.exit_code == 1, result.output
    assert f"altered {event['event_id']} (line 4): step, hash differ" in result.output


async def test_verify_reports_missing_and_extra_events_then_reconcile_repairs(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    wid, path = await shipped_log(saga_dev_env, saga_task_queue, tmp_path)
    lines = path.read_text().splitlines()
    dropped = json.loads(lines.pop(2))["event_id"]
    forged = {**json.loads(lines[0]), "event_id": f"{json.loads(lines[0])['run_id']}/999.0"}
    path.write_text("\n".join([*lines, json.dumps(forged)]) + "\n")

    verified = await sagas(saga_dev_env, "audit", wid, "--verify", str(path))
    repaired = await sagas(saga_dev_env, "audit", wid, "--reconcile", str(path))
    again = await sagas(saga_dev_env, "audit", wid, "--verify", str(path))

    assert verified.exit_code == 1
    assert f"missing {dropped}: in the history, not in the log" in verified.output
    assert f"extra {forged['event_id']}: in the log, not in the history" in verified.output
    assert "added 1, replaced 0, removed 1" in repaired.output
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_audit_refuses_a_hostile_history_file_in_one_line_within_200_mb(
    tmp_path: Path, kind: str
) -> None:
    path = hostile_history(tmp_path, kind)

    run = run_sagas(tmp_path, "audit", "--history", str(path))

    assert_refused_history_file(run, path)
