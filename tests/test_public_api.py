"""The public API is what the curated ``__all__`` lists say; this test pins it."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "temporal_sagas": [
        "SAGA_ABORTED",
        "SAGA_COMPENSATED",
        "SAGA_COMPENSATION_FAILED",
        "SAGA_NAME",
        "SAGA_STATUS",
        "CompensationPolicy",
        "CompensationRecord",
        "CompensationReport",
        "CompensationStatus",
        "FailureInfo",
        "NotInSagaActivityError",
        "OperatorAction",
        "OperatorActionRejected",
        "OperatorRequest",
        "Saga",
        "SagaDefinitionError",
        "SagaError",
        "SagaEvent",
        "SagaEventKind",
        "SagaInputError",
        "SagaNotFoundError",
        "SagaPlugin",
        "SagaState",
        "SagaStatus",
        "StepContext",
        "StepOptions",
        "StepRecord",
        "StepStatus",
        "__version__",
        "current_idempotency_key",
        "current_step",
        "operator_action",
        "saga_state",
        "start_saga",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_exactly_the_pinned_ones(module: str) -> None:
    assert sorted(importlib.import_module(module).__all__) == sorted(PUBLIC[module])


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_resolves(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name


def test_every_public_error_derives_from_saga_error() -> None:
    import temporal_sagas as ts

    errors = [getattr(ts, n) for n in ts.__all__ if n.endswith(("Error", "Rejected"))]
    assert errors
    assert all(issubclass(e, ts.SagaError) for e in errors)
