"""The step header: what every activity a saga schedules carries, in as few bytes as it can."""

from __future__ import annotations

import json
from typing import Any

import pytest

from temporal_sagas._context import encode_step_header, outgoing_step
from temporal_sagas._contract import STEP_HEADER
from temporal_sagas._models import CompensationPolicy, StepContext
from temporal_sagas.workers._interceptor import _with_step

_FIELDS: dict[str, Any] = {
    "saga": "transfer",
    "saga_key": "t-42",
    "step": "withdraw",
    "kind": "action",
    "workflow_id": "t-42",
    "policy": CompensationPolicy.SEQUENTIAL,
    "pivot": False,
    "after_pivot": False,
    "compensation": "refund",
    "compensate_on": "attempt",
}


def _header(**overrides: Any) -> bytes:
    return encode_step_header(**{**_FIELDS, **overrides})


def _context(**overrides: Any) -> StepContext:
    """The context the engine means by ``_header(**overrides)``, every key spelled out."""
    fields = {**_FIELDS, **overrides}
    step_key = f"{fields['saga']}/{fields['saga_key']}/{fields['step']}"
    suffix = "" if fields["kind"] == "action" else "/compensate"
    return StepContext(step_key=step_key, idempotency_key=step_key + suffix, **fields)


@pytest.mark.parametrize("kind", ["action", "compensation"])
def test_the_header_leaves_out_the_keys_and_defaults_a_step_context_derives(kind: str) -> None:
    assert json.loads(_header(kind=kind)) == {
        "saga": "transfer",
        "saga_key": "t-42",
        "step": "withdraw",
        "kind": kind,
        "compensation": "refund",
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"kind": "compensation"},
        {"workflow_id": "transfers/t-42"},
        {"policy": CompensationPolicy.PARALLEL, "pivot": True, "compensation": None},
        {"after_pivot": True, "compensation": None},
        {"compensate_on": "success"},
        {"kind": "compensation", "action_completed": True},
        {"saga_key": 'quote " and \\ back', "step": "ünïcode[2]", "workflow_id": "w\n1"},
    ],
)
def test_the_header_reads_back_as_the_steps_context(overrides: dict[str, Any]) -> None:
    assert StepContext.model_validate_json(_header(**overrides)) == _context(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"workflow_id": "transfers/t-42", "pivot": True},
        {"step": "ünïcode", "saga_key": 'a"b'},
        {"kind": "compensation", "action_completed": True},
    ],
)
def test_the_header_has_the_bytes_the_pydantic_dump_would_have(overrides: dict[str, Any]) -> None:
    context = _context(**overrides)
    left_out = {"step_key", "idempotency_key"} | (
        {"workflow_id"} if context.workflow_id == context.saga_key else set()
    )

    dumped = context.model_dump_json(exclude_defaults=True, exclude=left_out).encode()

    assert _header(**overrides) == dumped


def test_the_interceptor_attaches_the_header_the_engine_set() -> None:
    token = outgoing_step.set(_header())
    try:
        payload = _with_step({"other": None})[STEP_HEADER]
    finally:
        outgoing_step.reset(token)

    assert payload.metadata["encoding"] == b"json/plain"
    assert payload.data == _header()


def test_no_header_is_attached_outside_a_saga_step() -> None:
    assert STEP_HEADER not in _with_step({})


def test_a_header_that_names_every_key_still_reads() -> None:
    # As headers were written before the derived keys were left out; histories keep them.
    written = json.dumps(
        {
            "saga": "transfer",
            "saga_key": "t-42",
            "step": "withdraw",
            "kind": "compensation",
            "step_key": "transfer/t-42/withdraw",
            "idempotency_key": "transfer/t-42/withdraw/compensate",
            "workflow_id": "t-42",
            "compensation": "refund",
        }
    )

    assert StepContext.model_validate_json(written) == _context(kind="compensation")


def test_the_derived_keys_are_what_activities_read() -> None:
    context = StepContext.model_validate_json(
        '{"saga":"transfer","saga_key":"t-42","step":"withdraw","kind":"compensation"}'
    )

    assert context.step_key == "transfer/t-42/withdraw"
    assert context.idempotency_key == "transfer/t-42/withdraw/compensate"
    assert context.workflow_id == "t-42"
