"""`--record-histories` and `replay_check`, exercised in a pytest run of their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
"""

SAGA_TEST = """
import uuid
from temporalio.worker import Worker
from tests.testing.mutation_sagas import ACTIVITIES, V1, {build}, Order


async def test_saga(saga_env, replay_check):
    wid = f"rec-{{uuid.uuid4().hex[:8]}}"
    async with Worker(saga_env.client, task_queue=wid, workflows=[V1], activities=ACTIVITIES):
        await saga_env.client.execute_workflow(V1.run, Order(key=wid), id=wid, task_queue=wid)
    # A later worker of the next build registers under the same workflow name.
    async with Worker(saga_env.client, task_queue=wid + "-next", workflows=[{build}],
                      activities=ACTIVITIES):
        pass
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeini(INI)
    # The plugin is opt-in, as a user's suite asks for it.
    pytester.makeconftest('pytest_plugins = ["temporal_sagas.testing.plugin"]')
    return pytester


def test_replay_check_passes_when_the_code_still_replays(inner: pytest.Pytester) -> None:
    inner.makepyfile(SAGA_TEST.format(build="AddedPatched"))

    result = inner.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)


def test_replay_check_fails_the_test_whose_saga_does_not_replay(inner: pytest.Pytester) -> None:
    inner.makepyfile(SAGA_TEST.format(build="Reordered"))

    result = inner.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*SagaReplayError*", "*Activity id of scheduled event*"])


def test_record_histories_writes_one_file_per_started_run(
    inner: pytest.Pytester, tmp_path: Path
) -> None:
    inner.makepyfile(SAGA_TEST.format(build="AddedPatched"))
    out = tmp_path / "recorded"

    inner.runpytest_subprocess("-p", "no:cacheprovider", "--record-histories", str(out))

    (path,) = out.glob("*.json")
    document = json.loads(path.read_text())
    assert document["workflow_id"].startswith("rec-")
    assert document["history"]["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"


def test_replay_all_checks_tests_that_did_not_ask_for_it(inner: pytest.Pytester) -> None:
    inner.makepyfile(SAGA_TEST.format(build="Reordered").replace(", replay_check", ""))

    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "--replay-all")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*SagaReplayError*"])
