"""Payload encryption: ciphertext in history, readable with the right keys, rotation."""

from __future__ import annotations

import base64
import os

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from temporal_sagas import SagaPlugin, saga_state
from temporal_sagas.history import saga_state_from_history
from temporal_sagas.workers._codec import (
    ENCODING,
    EncryptionCodec,
    EncryptionKeyError,
    codec_from_env,
    decode_history,
)
from tests.sagas import Script, StepScript, new_id, saga_worker, start

SECRET_STEP = "charge-card-4111111111111111"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def _client(env: WorkflowEnvironment, codec: EncryptionCodec) -> Client:
    return await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        plugins=[SagaPlugin(codec=codec)],
    )


async def _run_encrypted(
    env: WorkflowEnvironment, queue: str, codec: EncryptionCodec
) -> tuple[Client, str]:
    client, wid = await _client(env, codec), new_id("enc")
    script = Script(steps=(StepScript(name=SECRET_STEP),))
    async with saga_worker(client, queue):
        await (await start(client, queue, script, wid)).result()
    return client, wid


async def test_saga_payloads_are_ciphertext_in_history(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    codec = EncryptionCodec.from_spec(f"k1:{_key()}")
    _, wid = await _run_encrypted(saga_dev_env, saga_task_queue, codec)
    raw = await saga_dev_env.client.get_workflow_handle(wid).fetch_history()

    started = raw.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert started.metadata["encoding"] == ENCODING
    assert started.metadata["encryption-key-id"] == b"k1"
    assert SECRET_STEP.encode() not in raw.events[0].SerializeToString()


async def test_encrypted_history_decodes_to_the_live_saga_state(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    codec = EncryptionCodec.from_spec(f"k1:{_key()}")
    client, wid = await _run_encrypted(saga_dev_env, saga_task_queue, codec)
    handle = client.get_workflow_handle(wid)
    async with saga_worker(client, saga_task_queue):
        live = await saga_state(handle)
    raw = await handle.fetch_history()

    decoded = await decode_history(raw, codec)
    assert saga_state_from_history(decoded) == live


async def test_rotated_keys_still_decrypt_old_histories_and_encrypt_with_the_new_key(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    old = _key()
    first = EncryptionCodec.from_spec(f"k1:{old}")
    _, wid = await _run_encrypted(saga_dev_env, saga_task_queue, first)
    raw = await saga_dev_env.client.get_workflow_handle(wid).fetch_history()
    rotated = EncryptionCodec.from_spec(f"k2:{_key()},k1:{old}")

    decoded = await decode_history(raw, rotated)
    fresh = (
        await rotated.encode(
            decoded.events[0].workflow_execution_started_event_attributes.input.payloads
        )
    )[0]

    assert SECRET_STEP.encode() in decoded.events[0].SerializeToString()
    assert fresh.metadata["encryption-key-id"] == b"k2"


async def test_a_missing_key_is_named_in_the_error(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    _, wid = await _run_encrypted(
        saga_dev_env, saga_task_queue, EncryptionCodec.from_spec(f"gone:{_key()}")
    )
    raw = await saga_dev_env.client.get_workflow_handle(wid).fetch_history()

    with pytest.raises(EncryptionKeyError, match="'gone'"):
        await decode_history(raw, EncryptionCodec.from_spec(f"other:{_key()}"))


async def test_a_tampered_payload_fails_authentication() -> None:
    codec = EncryptionCodec.from_spec(f"k1:{_key()}")
    from temporalio.api.common.v1 import Payload

    sealed = (await codec.encode([Payload(data=b"secret")]))[0]
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])

    with pytest.raises(EncryptionKeyError, match="failed authentication"):
        await codec.decode([sealed])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nokey", "write id:base64key"),
        ("k1:not-base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "needs 32"),
    ],
)
def test_malformed_key_specs_are_rejected_with_the_reason(spec: str, message: str) -> None:
    with pytest.raises(EncryptionKeyError, match=message):
        EncryptionCodec.from_spec(spec)


def test_no_environment_variable_means_no_encryption() -> None:
    assert codec_from_env({}) is None
    assert codec_from_env({"SAGAS_ENCRYPTION_KEYS": f"a:{_key()}"}) is not None
