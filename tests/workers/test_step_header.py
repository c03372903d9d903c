"""The step header: what every activity a saga schedules carries, in as few bytes as it can."""

from __future__ import annotations

import json

import pytest

from temporal_sagas._context import STEP_HEADER, outgoing_step
from temporal_sagas._models import StepContext
from temporal_sagas.workers._interceptor import _with_step


def _context(**overrides: object) -> StepContext:
    fields: dict[str, object] = {
        "saga": "transfer",
        "saga_key": "t-42",
        "step": "withdraw",
        "kind": "action",
        "step_key": "transfer/t-42/withdraw",
        "idempotency_key": "transfer/t-42/withdraw",
        "workflow_id": "t-42",
        "compensation": "refund",
    }
    return StepContext.model_validate({**fields, **overrides})


def _header(context: StepContext) -> dict[str, object]:
    token = outgoing_step.set(context)
    try:
        payload = _with_step({})[STEP_HEADER]
    finally:
        outgoing_step.reset(token)
    assert StepContext.model_validate_json(payload.data) == context
    decoded: dict[str, object] = json.loads(payload.data)
    return decoded


@pytest.mark.parametrize("kind", ["action", "compensation"])
def test_the_header_leaves_out_the_keys_the_engine_derives(kind: str) -> None:
    key = "transfer/t-42/withdraw" + ("" if kind == "action" else "/compensate")

    header = _header(_context(kind=kind, idempotency_key=key))

    assert header == {
        "saga": "transfer",
        "saga_key": "t-42",
        "step": "withdraw",
        "kind": kind,
        "compensation": "refund",
    }


def test_keys_other_than_the_derived_ones_travel_in_the_header() -> None:
    context = _context(workflow_id="transfers/t-42", idempotency_key="custom-key")

    header = _header(context)

    assert header["workflow_id"] == "transfers/t-42"
    assert header["idempotency_key"] == "custom-key"
    assert "step_key" not in header


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

    assert StepContext.model_validate_json(written) == _context(
        kind="compensation", idempotency_key="transfer/t-42/withdraw/compensate"
    )


def test_the_derived_keys_are_what_activities_read() -> None:
    context = StepContext.model_validate_json(
        '{"saga":"transfer","saga_key":"t-42","step":"withdraw","kind":"compensation"}'
    )

    assert context.step_key == "transfer/t-42/withdraw"
    assert context.idempotency_key == "transfer/t-42/withdraw/compensate"
    assert context.workflow_id == "t-42"
