"""`sagas retry|skip|resolve` sign with the operator's key; the saga records its key id."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import OperatorKeys, SagaStatus
from temporal_sagas._operators import OperatorKey, generate_key_pair, load_public_key
from temporal_sagas.cli._main import cli
from tests.sagas import Script, StepScript, keyed_worker, new_id, start, wait_for_status

PARKING = Script(
    steps=(
        StepScript(name="reserve"),
        StepScript(name="charge", compensation="fail"),
        StepScript(name="ship", action="fail"),
    )
)


def _operator(tmp_path: Path) -> tuple[Path, OperatorKeys, str]:
    """ana's private key file, the keys a worker trusting her has, and the raw private key."""
    private, public = generate_key_pair()
    key_file = tmp_path / "ana.key"
    key_file.write_text(private + "\n")
    key = OperatorKey(load_public_key(public, "ana"), frozenset({"skip", "resolve", "retry"}))
    return key_file, OperatorKeys(keys={"ana": key}), private


async def sagas(env: WorkflowEnvironment, *args: str, **environ: str) -> Result:
    address = ["--address", env.client.service_client.config.target_host]
    runner = CliRunner(env={"SAGAS_OPERATOR_KEY": None, **environ})  # type: ignore[dict-item]
    result: Any = await asyncio.to_thread(runner.invoke, cli, [*args, *address])
    return result


async def test_skip_signed_with_a_key_file_is_shown_under_the_key_id(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    key_file, keys, _ = _operator(tmp_path)
    wid = new_id("cli-signed")
    async with keyed_worker(saga_dev_env, saga_task_queue, keys) as client:
        handle = await start(client, saga_task_queue, PARKING, wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        unsigned = await sagas(saga_dev_env, "skip", wid, "--reason", "by phone")
        skipped = await sagas(
            saga_dev_env,
            "skip",
            wid,
            "--reason",
            "refunded by phone",
            "--key-id",
            "ana",
            "--key-file",
            str(key_file),
        )
        state = await wait_for_status(handle, SagaStatus.COMPENSATED)
        shown = await sagas(saga_dev_env, "show", wid)

    assert unsigned.exit_code != 0
    assert "accepts only signed operator requests" in str(unsigned.exception)
    assert skipped.exit_code == 0, skipped.output
    assert "(operator ana)" in skipped.output
    assert [(a.operator, a.authenticated) for a in state.operator_actions] == [("ana", True)]
    lane = shown.output.split("operator actions")[1].splitlines()[3]
    assert [cell.strip() for cell in lane.split("│")][1:4] == ["skip", "charge", "ana"]


async def test_the_private_key_may_come_from_the_environment(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    _, keys, private = _operator(tmp_path)
    wid = new_id("cli-envkey")
    async with keyed_worker(saga_dev_env, saga_task_queue, keys) as client:
        handle = await start(client, saga_task_queue, PARKING, wid)
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        resolved = await sagas(
            saga_dev_env,
            "resolve",
            wid,
            "--reason",
            "finance fixed it",
            SAGAS_OPERATOR_KEY=private,
            SAGAS_OPERATOR_KEY_ID="ana",
        )
        state = await wait_for_status(handle, SagaStatus.COMPENSATED)

    assert resolved.exit_code == 0, resolved.output
    assert [(a.action, a.operator) for a in state.operator_actions] == [("resolve", "ana")]


async def test_a_key_without_its_key_id_is_a_usage_error(
    saga_dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    key_file, _, _ = _operator(tmp_path)
    result = await sagas(saga_dev_env, "retry", "any", "--reason", "x", "--key-file", str(key_file))
    assert result.exit_code == 2
    assert "--key-id" in result.output


async def test_retry_needs_a_reason_too(saga_dev_env: WorkflowEnvironment) -> None:
    result = await sagas(saga_dev_env, "retry", "any")
    assert result.exit_code == 2
    assert "--reason" in result.output
