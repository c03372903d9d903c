"""`sagas replay`: the pre-deploy gate over history files and live histories."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas.cli._main import cli
from temporal_sagas.testing import write_history
from tests.cli.bounded import assert_refused_history_file, run_sagas
from tests.history.hostile import HOSTILE_KINDS, hostile_history
from tests.testing.mutation_sagas import ACTIVITIES, V1, Order

V1_TARGET = "tests.testing.mutation_sagas:V1"
REORDERED_TARGET = "tests.testing.mutation_sagas:Reordered"


def _replay(*args: str) -> Result:
    return CliRunner().invoke(cli, ["replay", *args], catch_exceptions=True)


@pytest.fixture
def history_dir(
    tmp_path: Path, v1_completed: WorkflowHistory, v1_compensated: WorkflowHistory
) -> Path:
    write_history(v1_completed, tmp_path)
    write_history(v1_compensated, tmp_path)
    return tmp_path


def test_unchanged_build_passes_the_gate(history_dir: Path) -> None:
    result = _replay(str(history_dir), "--workflows", V1_TARGET)

    assert result.exit_code == 0, result.output
    assert "2 histories replayed" in result.output


def test_reordered_build_fails_the_gate_naming_saga_run_and_event(
    history_dir: Path, v1_completed: WorkflowHistory
) -> None:
    result = _replay(str(history_dir), "--workflows", REORDERED_TARGET)

    assert result.exit_code == 1
    assert f"mutation-saga {v1_completed.workflow_id} run {v1_completed.run_id} event " in (
        result.output
    )
    assert "Nondeterminism error" in result.output


def test_json_report_lists_every_failure(history_dir: Path) -> None:
    result = _replay(str(history_dir), "--workflows", REORDERED_TARGET, "--json")

    report = json.loads(result.output)
    assert report["ok"] is False
    assert report["replayed"] == 2
    assert len(report["failures"]) == 2
    assert {f["workflow_type"] for f in report["failures"]} == {"mutation-saga"}
    assert all(isinstance(f["event_id"], int) for f in report["failures"])


def test_plain_cli_export_is_accepted(tmp_path: Path, v1_completed: WorkflowHistory) -> None:
    (tmp_path / f"{v1_completed.workflow_id}.json").write_text(v1_completed.to_json())

    result = _replay(str(tmp_path), "--workflows", V1_TARGET, "--json")

    assert json.loads(result.output)["replayed"] == 1


def test_workflows_option_must_name_a_workflow_class(history_dir: Path) -> None:
    result = _replay(str(history_dir), "--workflows", "tests.testing.mutation_sagas:NAME")

    assert result.exit_code == 2
    assert "neither a workflow class" in result.output


def test_no_paths_and_no_query_is_a_usage_error() -> None:
    result = _replay("--workflows", V1_TARGET)

    assert result.exit_code == 2


def test_gate_exits_non_zero_as_a_process(history_dir: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "temporal_sagas.cli",
            "replay",
            str(history_dir),
            "-w",
            REORDERED_TARGET,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1
    assert "2 diverged" in done.stdout
    assert "do not deploy" in done.stderr


@pytest.mark.dev_server
async def test_live_histories_are_fetched_by_query(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    wid = f"gate-{uuid.uuid4().hex[:8]}"
    async with Worker(
        saga_dev_env.client, task_queue=saga_task_queue, workflows=[V1], activities=ACTIVITIES
    ):
        await saga_dev_env.client.execute_workflow(
            V1.run, Order(key=wid), id=wid, task_queue=saga_task_queue
        )
    address = saga_dev_env.client.service_client.config.target_host
    await _until_visible(saga_dev_env, wid)

    result = await _in_thread(
        "--query",
        f"WorkflowId = '{wid}'",
        "--address",
        address,
        "-w",
        REORDERED_TARGET,
        "--json",
    )

    report = json.loads(result.output)
    assert [f["workflow_id"] for f in report["failures"]] == [wid]


async def _until_visible(env: WorkflowEnvironment, wid: str) -> None:
    # Visibility lags the history a little; poll (bounded) until the run is listed.
    for _ in range(200):
        if [w async for w in env.client.list_workflows(f"WorkflowId = '{wid}'")]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{wid} never became visible")


async def _in_thread(*args: str) -> Result:
    # The command runs its own event loop (asyncio.run), so it cannot share the test's.
    return await asyncio.to_thread(_replay, *args)


def _replay_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "temporal_sagas.cli", "replay", *args],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
    )  # fmt: skip


def test_a_failing_gate_prints_its_report_without_the_sdk_core_s_log_lines(
    history_dir: Path,
) -> None:
    # The core writes its own WARN line per diverging task, coloured, to the process's
    # standard output: in the middle of the report, and of --json.
    done = _replay_process(str(history_dir), "--workflows", REORDERED_TARGET)

    assert done.returncode == 1
    assert "Nondeterminism error" in done.stdout
    assert "WARN" not in done.stdout + done.stderr
    assert "\x1b[" not in done.stdout + done.stderr


def test_a_failing_gate_s_json_report_is_nothing_but_json(history_dir: Path) -> None:
    done = _replay_process(str(history_dir), "--workflows", REORDERED_TARGET, "--json")

    report = json.loads(done.stdout)
    assert report["replayed"] == 2
    assert len(report["failures"]) == 2


def test_verbose_shows_the_sdk_core_s_warnings(history_dir: Path) -> None:
    done = _replay_process(str(history_dir), "--workflows", REORDERED_TARGET, "--verbose")

    assert done.returncode == 1
    assert "WARN" in done.stdout + done.stderr


@pytest.mark.parametrize("kind", HOSTILE_KINDS)
def test_replay_refuses_a_hostile_history_file_in_one_line_within_200_mb(
    tmp_path: Path, kind: str
) -> None:
    path = hostile_history(tmp_path, kind)

    run = run_sagas(tmp_path, "replay", "--workflows", V1_TARGET, str(path))

    assert_refused_history_file(run, path)
