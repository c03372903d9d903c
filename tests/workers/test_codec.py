"""Payload encryption: ciphertext in history, readable with the right keys, rotation."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleSpec,
    WorkflowFailureError,
    WorkflowHistory,
    WorkflowUpdateFailedError,
)
from temporalio.common import RawValue
from temporalio.converter import WorkflowSerializationContext
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from temporal_sagas import OperatorRequest, SagaPlugin, SagaStatus, saga_state
from temporal_sagas.history import saga_state_from_history
from temporal_sagas.workers._codec import (
    AAD,
    ENCODING,
    WORKFLOW_ID,
    EncryptionCodec,
    EncryptionKeyError,
    _same_saga,
    codec_from_env,
    decode_history,
)
from temporal_sagas.workers._converter import SagaPayloadConverter
from tests.cli.test_inspect import PARKING
from tests.sagas import (
    Script,
    ScriptedSaga,
    StepScript,
    done,
    entries,
    new_id,
    saga_worker,
    start,
    task_failure_message,
    wait_for_status,
)
from tests.workers.cards import CARD, CardSaga, charge_card

PARKED = SagaStatus.NEEDS_ATTENTION
SKIP = OperatorRequest(step="charge", reason="sent in clear", operator="someone")
#: An order whose card fails the pattern: pydantic's message quotes it.
UNREADABLE = {"card": f"{CARD}-x", "amount": 5}

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


# -- nothing left in clear: failures, plaintext, moved ciphertext, malformed data ----------


async def _card_history(
    env: WorkflowEnvironment, queue: str, order: dict[str, object]
) -> WorkflowHistory:
    """Run `CardSaga` on ``order`` with encryption; its history as the server stores it."""
    client, wid = await _client(env, EncryptionCodec.from_spec(f"k1:{_key()}")), new_id("card")
    async with saga_worker(client, queue, workflows=[CardSaga], activities=[charge_card]):
        handle = await client.start_workflow(CardSaga.run, order, id=wid, task_queue=queue)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    return await env.client.get_workflow_handle(wid).fetch_history()


async def test_an_activity_failure_quoting_a_card_leaves_no_card_in_history(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    raw = await _card_history(saga_dev_env, saga_task_queue, {"card": CARD, "amount": 5})

    failed = [e for e in raw.events if e.HasField("activity_task_failed_event_attributes")]
    assert len(failed) == 1  # the activity did fail, with the card in its message
    assert CARD not in raw.to_json()


async def test_a_validation_error_quoting_the_input_leaves_no_card_in_history(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    raw = await _card_history(saga_dev_env, saga_task_queue, UNREADABLE)

    assert raw.events[-1].HasField("workflow_execution_failed_event_attributes")
    assert CARD not in raw.to_json()


async def test_encrypted_failure_messages_decode_with_the_keys(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    codec = EncryptionCodec.from_spec(f"k1:{_key()}")
    client, wid = await _client(saga_dev_env, codec), new_id("card")
    async with saga_worker(client, saga_task_queue, workflows=[CardSaga], activities=[]):
        handle = await client.start_workflow(
            CardSaga.run, UNREADABLE, id=wid, task_queue=saga_task_queue
        )
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()

    assert isinstance(failed.value.cause, ApplicationError)
    assert CARD in failed.value.cause.message


async def _task_failure(env: WorkflowEnvironment, wid: str, codec: EncryptionCodec) -> str:
    """The message of the saga's failed workflow task, which the codec encrypted too."""
    await task_failure_message(env.client.get_workflow_handle(wid))
    raw = await env.client.get_workflow_handle(wid).fetch_history()
    decoded = await decode_history(raw, codec)
    failed = next(e for e in decoded.events if e.HasField("workflow_task_failed_event_attributes"))
    encoded = failed.workflow_task_failed_event_attributes.failure.encoded_attributes
    return str(json.loads(encoded.data)["message"])


async def test_a_strict_worker_fails_a_saga_started_with_plaintext_input(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    strict = EncryptionCodec.from_spec(f"k1:{_key()}", strict=True)
    client, wid = await _client(saga_dev_env, strict), new_id("plain")
    script = Script(steps=(StepScript(name="reserve"),))
    async with saga_worker(client, saga_task_queue):
        # The environment's client has no codec: it sends the input in clear.
        await start(saga_dev_env.client, saga_task_queue, script, wid)
        with pytest.raises(WorkflowFailureError) as failed:
            # Bounded: a saga whose workflow task fails on the input never closes.
            await asyncio.wait_for(client.get_workflow_handle(wid).result(), 60)

    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == "SagaInputError"
    assert "sent unencrypted" in failed.value.cause.message
    assert entries(wid) == []


async def test_a_strict_worker_rejects_a_plaintext_update(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    strict = EncryptionCodec.from_spec(f"k1:{_key()}", strict=True)
    client, wid = await _client(saga_dev_env, strict), new_id("plain-update")
    async with saga_worker(client, saga_task_queue):
        await wait_for_status(await start(client, saga_task_queue, PARKING, wid), PARKED)
        plain = saga_dev_env.client.get_workflow_handle(wid)
        with pytest.raises(WorkflowUpdateFailedError):
            await plain.execute_update("saga_skip", SKIP)
    raw = await plain.fetch_history()

    accepted = [
        e for e in raw.events if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert accepted == []
    assert saga_state_from_history(await decode_history(raw, strict)).status is PARKED


async def test_a_plaintext_signal_does_not_stop_a_strict_saga(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    strict = EncryptionCodec.from_spec(f"k1:{_key()}", strict=True)
    client, wid = await _client(saga_dev_env, strict), new_id("plain-signal")
    async with saga_worker(client, saga_task_queue):
        handle = await start(client, saga_task_queue, PARKING, wid)
        await wait_for_status(handle, PARKED)
        await saga_dev_env.client.get_workflow_handle(wid).signal("anything", "in clear")
        # Bounded: a saga whose workflow tasks fail on the signal never takes the update.
        await asyncio.wait_for(handle.execute_update("saga_skip", SKIP), 30)
        await wait_for_status(handle, SagaStatus.COMPENSATED)

    assert "reserve" in done(wid, "compensation")  # compensated after the update


async def test_ciphertext_moved_into_another_saga_is_refused(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    codec = EncryptionCodec.from_spec(f"k1:{_key()}")
    _, first = await _run_encrypted(saga_dev_env, saga_task_queue, codec)
    raw = await saga_dev_env.client.get_workflow_handle(first).fetch_history()
    sealed = raw.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    client, second = await _client(saga_dev_env, codec), new_id("moved")
    async with saga_worker(client, saga_task_queue):
        # Started without a codec, so the copied ciphertext reaches the server as it is.
        await saga_dev_env.client.start_workflow(
            ScriptedSaga.run, RawValue(sealed), id=second, task_queue=saga_task_queue
        )
        message = await _task_failure(saga_dev_env, second, codec)

    assert "cannot be moved between sagas" in message
    assert entries(second) == []
    assert entries(first) != []  # the same ciphertext ran its steps in its own saga


async def test_payloads_sealed_before_the_binding_still_decrypt() -> None:
    codec = EncryptionCodec.from_spec(f"k1:{_key()}")
    # Without a serialization context the codec writes the original, unbound form.
    legacy = (await codec.encode([Payload(data=b"old")]))[0]
    bound = codec.with_context(WorkflowSerializationContext("default", "saga-1"))

    assert AAD not in legacy.metadata
    assert await bound.decode([legacy]) == [Payload(data=b"old")]


async def test_a_bound_payload_names_its_saga_and_decodes_there_only() -> None:
    codec = EncryptionCodec.from_spec(f"k1:{_key()}")
    here = codec.with_context(WorkflowSerializationContext("default", "saga-1"))
    elsewhere = codec.with_context(WorkflowSerializationContext("default", "saga-2"))
    sealed = (await here.encode([Payload(data=b"secret")]))[0]
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[WORKFLOW_ID] = b"saga-2"

    assert sealed.metadata[WORKFLOW_ID] == b"saga-1"
    assert await here.decode([sealed]) == [Payload(data=b"secret")]
    with pytest.raises(EncryptionKeyError, match="cannot be moved"):
        await elsewhere.decode([sealed])
    with pytest.raises(EncryptionKeyError, match="failed authentication"):
        await elsewhere.decode([relabelled])


async def test_a_strict_codec_refuses_a_plain_payload_where_it_is_read() -> None:
    strict = EncryptionCodec.from_spec(f"k1:{_key()}", strict=True)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"card 4111"')

    refused = await strict.decode([plain])
    assert refused[0].data == b""
    with pytest.raises(EncryptionKeyError, match="sent unencrypted"):
        SagaPayloadConverter().from_payloads(refused)


async def test_a_lenient_codec_passes_a_plain_payload_through() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')

    assert await EncryptionCodec.from_spec(f"k1:{_key()}").decode([plain]) == [plain]


async def test_a_strict_codec_still_reads_histories_with_plain_search_attributes(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    spec = f"k1:{_key()}"
    _, wid = await _run_encrypted(saga_dev_env, saga_task_queue, EncryptionCodec.from_spec(spec))
    raw = await saga_dev_env.client.get_workflow_handle(wid).fetch_history()

    decoded = await decode_history(raw, EncryptionCodec.from_spec(spec, strict=True))
    assert SECRET_STEP.encode() in decoded.events[0].SerializeToString()


def _sealed(data: bytes, **metadata: bytes) -> Payload:
    return Payload(
        metadata={"encoding": ENCODING, "encryption-key-id": b"k1", **metadata}, data=data
    )


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(_sealed(b""), id="empty data"),
        pytest.param(_sealed(b"\x00" * 20), id="truncated data"),
        pytest.param(
            Payload(metadata={"encoding": ENCODING, "encryption-key-id": b"\xff\xfe"}, data=b""),
            id="non-UTF-8 key id",
        ),
        pytest.param(_sealed(b"\x00" * 40, **{AAD: b"wf", WORKFLOW_ID: b"\xff"}), id="bad saga"),
        pytest.param(_sealed(b"\x00" * 40, **{AAD: b"v9"}), id="unknown binding"),
    ],
)
async def test_malformed_ciphertext_raises_the_codec_error(payload: Payload) -> None:
    with pytest.raises(EncryptionKeyError):
        await EncryptionCodec.from_spec(f"k1:{_key()}").decode([payload])


def test_a_key_id_listed_twice_is_refused() -> None:
    with pytest.raises(EncryptionKeyError, match="'k1' is listed twice"):
        EncryptionCodec.from_spec(f"k1:{_key()},k1:{_key()}")


def test_the_strict_flag_comes_from_the_environment() -> None:
    keys = {"SAGAS_ENCRYPTION_KEYS": f"a:{_key()}"}

    strict = codec_from_env({**keys, "SAGAS_ENCRYPTION_STRICT": "1"})
    lenient = codec_from_env({**keys, "SAGAS_ENCRYPTION_STRICT": "0"})
    assert strict is not None
    assert strict.strict
    assert lenient is not None
    assert not lenient.strict
    with pytest.raises(EncryptionKeyError, match="SAGAS_ENCRYPTION_STRICT"):
        codec_from_env({**keys, "SAGAS_ENCRYPTION_STRICT": "maybe"})


async def test_a_replayer_with_the_codec_replays_an_encrypted_history(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    codec = EncryptionCodec.from_spec(f"k1:{_key()}")
    _, wid = await _run_encrypted(saga_dev_env, saga_task_queue, codec)
    raw = await saga_dev_env.client.get_workflow_handle(wid).fetch_history()
    # The replayer decodes under its own namespace, not the one the saga ran in.
    replayer = Replayer(workflows=[ScriptedSaga], plugins=[SagaPlugin(codec=codec)])

    replayed = await replayer.replay_workflow(raw, raise_on_replay_failure=False)
    assert replayed.replay_failure is None


async def test_a_saga_started_by_a_schedule_decrypts_its_input(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client = await _client(saga_dev_env, EncryptionCodec.from_spec(f"k1:{_key()}"))
    action = ScheduleActionStartWorkflow(
        ScriptedSaga.run,
        Script(steps=(StepScript(name="reserve"),)),
        id=new_id("scheduled"),
        task_queue=saga_task_queue,
    )
    schedule = await client.create_schedule(
        new_id("schedule"), Schedule(action=action, spec=ScheduleSpec())
    )
    try:
        async with saga_worker(client, saga_task_queue):
            await schedule.trigger()
            run = await _first_run(schedule)
            # Bounded: a run that cannot decrypt its input never completes.
            await asyncio.wait_for(client.get_workflow_handle(run).result(), 60)
    finally:
        await schedule.delete()

    assert done(run, "action") == ["reserve"]


async def _first_run(schedule: ScheduleHandle) -> str:
    for _ in range(600):
        actions = (await schedule.describe()).info.recent_actions
        if actions:
            started = actions[0].action
            assert isinstance(started, ScheduleActionExecutionStartWorkflow)
            return started.workflow_id
        await asyncio.sleep(0.05)
    raise AssertionError("the schedule never started its saga")


def test_a_scheduled_run_accepts_its_schedule_s_payloads_and_nothing_else() -> None:
    assert _same_saga("nightly", "nightly-2026-12-07T07:59:16Z")
    assert not _same_saga("nightly", "nightly-other")
    assert not _same_saga("nightly", "daily-2026-12-07T07:59:16Z")
