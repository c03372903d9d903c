"""Stored histories rebuild to the SagaState the live query answered when they were recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from temporal_sagas import SagaState
from temporal_sagas.history import load_history, saga_state_from_history

HISTORIES = Path(__file__).parent / "histories"
CASES = ["completed", "compensated", "parked", "failed", "cancelled", "retried"]


def live_state(case: str) -> SagaState:
    return SagaState.model_validate_json((HISTORIES / f"{case}.state.json").read_text())


@pytest.mark.parametrize("case", CASES)
def test_stored_history_rebuilds_the_recorded_live_state(case: str) -> None:
    rebuilt = saga_state_from_history(load_history(HISTORIES / f"{case}.history.json"))
    assert rebuilt == live_state(case)


def test_operator_retry_shows_in_actions_rounds_and_timeline() -> None:
    state = saga_state_from_history(load_history(HISTORIES / "retried.history.json"))
    assert [(a.action, a.step, a.operator) for a in state.operator_actions] == [
        ("retry", "charge", "ana")
    ]
    assert state.step("charge").compensation is not None
    assert state.step("charge").compensation.rounds == 2
    assert state.compensation_order == ["ship", "charge", "charge", "reserve"]
