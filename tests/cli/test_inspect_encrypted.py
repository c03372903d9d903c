"""The CLI reads encrypted sagas with the keys in ``SAGAS_ENCRYPTION_KEYS``."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaPlugin, SagaStatus
from temporal_sagas.history import load_history
from temporal_sagas.workers import EncryptionCodec
from temporal_sagas.workers._codec import ENCODING, encryption_key_ids
from tests.cli.test_inspect import PARKING, sagas
from tests.sagas import Script, StepScript, new_id, saga_worker, start, wait_for_status

KEYS = "SAGAS_ENCRYPTION_KEYS"
COMPLETING = Script(steps=(StepScript(name="reserve"), StepScript(name="charge")))


def _spec(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


async def _encrypting_client(env: WorkflowEnvironment, spec: str) -> Client:
    return await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        plugins=[SagaPlugin(codec=EncryptionCodec.from_spec(spec))],
    )


async def _parked_encrypted_saga(env: WorkflowEnvironment, queue: str, spec: str) -> str:
    """A saga parked on its ``charge`` compensation, its payloads encrypted under ``spec``."""
    client = await _encrypting_client(env, spec)
    wid = new_id("cli-enc")
    async with saga_worker(client, queue):
        await wait_for_status(await start(client, queue, PARKING, wid), SagaStatus.NEEDS_ATTENTION)
    return wid


async def test_show_and_plan_decrypt_a_saga_with_the_keys_given(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec("k1")
    wid = await _parked_encrypted_saga(saga_dev_env, saga_task_queue, spec)
    monkeypatch.setenv(KEYS, spec)
    shown = await sagas(saga_dev_env, "show", wid)
    planned = await sagas(saga_dev_env, "plan", wid, "--json")

    assert shown.exit_code == 0, shown.output
    assert "now: parked on charge" in shown.output
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.output)[0]["input"] == [{"step": "charge", "mode": "ok"}]


async def test_without_the_key_the_cli_names_the_key_it_needs(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wid = await _parked_encrypted_saga(saga_dev_env, saga_task_queue, _spec("k-2026"))
    monkeypatch.delenv(KEYS, raising=False)
    planned = await sagas(saga_dev_env, "plan", wid, "--json")
    monkeypatch.setenv(KEYS, _spec("other"))
    wrong_key = await sagas(saga_dev_env, "plan", wid, "--json")

    for result in (planned, wrong_key):
        assert result.exit_code != 0
        assert "'k-2026'" in str(result.exception)
        assert KEYS in str(result.exception)


async def _exported_encrypted_saga(
    env: WorkflowEnvironment, queue: str, spec: str, out: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A completed saga, encrypted under ``spec``, exported by ``sagas export`` into ``out``."""
    client = await _encrypting_client(env, spec)
    wid = new_id("cli-enc-export")
    async with saga_worker(client, queue):
        await (await start(client, queue, COMPLETING, wid)).result()
    monkeypatch.setenv(KEYS, spec)
    exported = await sagas(env, "export", wid, "--out", str(out))
    assert exported.exit_code == 0, exported.output
    [written] = exported.output.split()
    return Path(written)


async def test_export_writes_the_ciphertext_the_server_stores(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    path = await _exported_encrypted_saga(
        saga_dev_env, saga_task_queue, _spec("k1"), tmp_path, monkeypatch
    )

    started = load_history(path).events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == ENCODING
    assert encryption_key_ids(load_history(path)) == ["k1"]


async def test_show_history_and_the_replay_gate_decrypt_an_exported_file_with_the_keys(
    saga_dev_env: WorkflowEnvironment,
    saga_task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    path = await _exported_encrypted_saga(
        saga_dev_env, saga_task_queue, _spec("k1"), tmp_path, monkeypatch
    )
    shown = await sagas(None, "show", "--history", str(path), "--json")
    replayed = await sagas(None, "replay", str(path), "-w", "tests.sagas:ScriptedSaga")
    monkeypatch.delenv(KEYS)
    replayed_without_keys = await sagas(None, "replay", str(path), "-w", "tests.sagas:ScriptedSaga")

    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["status"] == SagaStatus.COMPLETED.value
    assert replayed.exit_code == 0, replayed.output
    assert replayed_without_keys.exit_code != 0
    assert "'k1'" in str(replayed_without_keys.exception)
