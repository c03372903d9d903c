"""Fixtures for the engine tests."""

from __future__ import annotations

import pytest

from tests.sagas import STEP_KINDS, StepKind


@pytest.fixture(params=STEP_KINDS)
def step_kind(request: pytest.FixtureRequest) -> StepKind:
    """Run the test once with regular activities and once with local ones (`local=True`)."""
    kind: StepKind = request.param
    return kind
