"""The replay gate over data-style definitions: a changed definition fails, a new version passes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas.definitions import (
    DEFINITIONS,
    DefinitionSaga,
    DefinitionSagaInput,
    SagaDefinition,
    parse_definition,
)
from temporal_sagas.testing import SagaReplayError, assert_replays
from tests.testing.mutation_sagas import ACTIVITIES

NAME = "replay-gate-mutation"
RETRY = {"maximum_attempts": 2, "initial_interval": "20ms"}


def _definition(version: int, steps: list[tuple[str, str]]) -> SagaDefinition:
    document: dict[str, Any] = {
        "name": NAME,
        "version": version,
        "defaults": {
            "action": {"start_to_close_timeout": "10s", "retry": RETRY},
            "compensation": {"start_to_close_timeout": "10s", "retry": RETRY},
        },
        "steps": [
            {"name": name, "action": "work", "compensation": undo, "input": f"{{step: '{name}'}}"}
            for name, undo in steps
        ],
    }
    return parse_definition(json.dumps(document), source=f"{NAME}.json")


V1 = _definition(1, [("a", "undo"), ("b", "undo"), ("c", "undo")])
CHANGED_V1 = {
    "reordered": _definition(1, [("b", "undo"), ("a", "undo"), ("c", "undo")]),
    "added": _definition(1, [("a", "undo"), ("b", "undo"), ("x", "undo"), ("c", "undo")]),
    "removed": _definition(1, [("a", "undo"), ("c", "undo")]),
    "compensation": _definition(1, [("a", "undo"), ("b", "undo_v2"), ("c", "undo")]),
}
V2 = _definition(2, [("a", "undo"), ("b", "undo_v2"), ("x", "undo"), ("c", "undo")])


@pytest.fixture
def registered_v1() -> Iterator[None]:
    DEFINITIONS.register(V1)
    yield
    DEFINITIONS.unregister(NAME, 1)
    DEFINITIONS.unregister(NAME, 2)


async def _record_v1(env: WorkflowEnvironment) -> WorkflowHistory:
    wid = f"gate-def-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client, task_queue=wid, workflows=[DefinitionSaga], activities=ACTIVITIES
    ):
        handle = await env.client.start_workflow(
            DefinitionSaga.run, DefinitionSagaInput(name=NAME, version=1), id=wid, task_queue=wid
        )
        await handle.result()
        return await handle.fetch_history()


@pytest.mark.usefixtures("registered_v1")
@pytest.mark.parametrize("change", sorted(CHANGED_V1))
async def test_changing_a_registered_definition_fails_the_gate(
    saga_env: WorkflowEnvironment, change: str
) -> None:
    history = await _record_v1(saga_env)
    DEFINITIONS.unregister(NAME, 1)
    DEFINITIONS.register(CHANGED_V1[change])

    with pytest.raises(SagaReplayError) as raised:
        await assert_replays(history, sagas=[DefinitionSaga])

    (failure,) = raised.value.report.failures
    assert (failure.workflow_id, failure.workflow_type) == (history.workflow_id, "DefinitionSaga")
    # The engine names the definition that changed (its wording is the engine's).
    assert f"{NAME}@v1" in failure.message


@pytest.mark.usefixtures("registered_v1")
async def test_a_new_definition_version_leaves_v1_histories_replaying(
    saga_env: WorkflowEnvironment,
) -> None:
    history = await _record_v1(saga_env)
    DEFINITIONS.register(V2)

    report = await assert_replays(history, sagas=[DefinitionSaga])

    assert report.ok
