"""pytest plugin: Temporal servers and replay checks for sagas (the ``[testing]`` extra).

The plugin is opt-in: installing temporal-sagas adds nothing to other projects'
pytest sessions. Ask for it in your top-level ``conftest.py``::

    pytest_plugins = ["temporal_sagas.testing.plugin"]

or on the command line with ``-p temporal_sagas.testing.plugin``.

Fixtures:
    saga_env: the time-skipping test server, one per session.
    saga_dev_env: the local dev server (in memory), one per session.
    saga_task_queue: a fresh task queue name for each test.
    replay_check: after the test, replay every history the test's sagas wrote
        against the workflow classes its workers ran (a forced second run).

Options:
    --replay-all: apply ``replay_check`` to every test using ``saga_env`` or
        ``saga_dev_env``: each saga a test runs is replayed a second time.
    --record-histories DIR: at the end of the session, write the history of every
        workflow started through the fixtures' clients into DIR (one JSON file per
        run, replayable by ``sagas replay`` and `assert_replays`).

Both environments' clients carry `SagaPlugin`, and their namespaces know the
``SagaName`` and ``SagaStatus`` search attributes. The fixtures are session
scoped, so tests using them need the session event loop. Set both, in
``pyproject.toml`` (or the ``[pytest]`` section of ``pytest.ini``)::

    [tool.pytest.ini_options]
    asyncio_mode = "auto"
    asyncio_default_fixture_loop_scope = "session"
    asyncio_default_test_loop_scope = "session"
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from temporal_sagas._extras import require

require("the temporal_sagas pytest plugin", "testing", "pytest", "pytest_asyncio")

# The rest needs the extra checked above.
import pytest  # noqa: E402
import pytest_asyncio  # noqa: E402
from temporalio.client import WorkflowHistory  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from temporal_sagas.testing._environments import (  # noqa: E402
    start_dev_server_env,
    start_time_skipping_env,
)
from temporal_sagas.testing._injection import INJECTORS  # noqa: E402
from temporal_sagas.testing._record import HistoryRecorder, RecordingPlugin  # noqa: E402
from temporal_sagas.testing._replay import ReplayReport, assert_replays  # noqa: E402

#: One recorder per started environment, in start order.
RECORDERS: list[HistoryRecorder] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--record-histories DIR``."""
    parser.getgroup("temporal_sagas").addoption(
        "--record-histories",
        metavar="DIR",
        default=None,
        help="write the history of every saga the session starts into DIR",
    )
    parser.getgroup("temporal_sagas").addoption(
        "--replay-all",
        action="store_true",
        default=False,
        help="apply replay_check to every test that uses saga_env or saga_dev_env",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--replay-all``, give every test using a saga server the `replay_check` fixture."""
    if not config.getoption("--replay-all"):
        return
    for item in items:
        names: list[str] = getattr(item, "fixturenames", [])
        if {"saga_env", "saga_dev_env"} & set(names) and "replay_check" not in names:
            names.append("replay_check")


async def _teardown(
    env: WorkflowEnvironment, recorder: HistoryRecorder, config: pytest.Config
) -> None:
    directory = config.getoption("--record-histories")
    try:
        if directory:
            await recorder.write(Path(directory))
    finally:
        RECORDERS.remove(recorder)
        await env.shutdown()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def saga_env(pytestconfig: pytest.Config) -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, with `SagaPlugin` on its client."""
    recorder = HistoryRecorder()
    env = await start_time_skipping_env(plugins=[RecordingPlugin(recorder)])
    recorder.client = env.client
    RECORDERS.append(recorder)
    try:
        yield env
    finally:
        await _teardown(env, recorder, pytestconfig)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def saga_dev_env(pytestconfig: pytest.Config) -> AsyncIterator[WorkflowEnvironment]:
    """The local Temporal dev server, with `SagaPlugin` on its client."""
    recorder = HistoryRecorder()
    env = await start_dev_server_env(plugins=[RecordingPlugin(recorder)])
    recorder.client = env.client
    RECORDERS.append(recorder)
    try:
        yield env
    finally:
        await _teardown(env, recorder, pytestconfig)


@pytest.fixture
def saga_task_queue(request: pytest.FixtureRequest) -> str:
    """A task queue name no other test uses."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"


class ReplayCheck:
    """What `replay_check` replayed after the test (None until then)."""

    report: ReplayReport | None = None


@pytest_asyncio.fixture(loop_scope="session")
async def replay_check() -> AsyncIterator[ReplayCheck]:
    """Replay every history the test's sagas produced, after the test.

    Request it (or list it in ``usefixtures``) in a test that runs sagas through
    ``saga_env`` or ``saga_dev_env``: when the test ends, each run it started is
    fetched (closed or still open) and replayed with `SagaPlugin` against the
    workflow class the test's worker registered under that workflow type. Any
    nondeterminism fails the test with a `SagaReplayError`.
    """
    marks = {id(r): len(r.started) for r in RECORDERS}
    check = ReplayCheck()
    yield check
    for recorder in list(RECORDERS):
        since = marks.get(id(recorder), 0)
        runs = recorder.started[since:]
        if not runs:
            continue
        known = [h for h in await recorder.histories(since) if _type(h) in recorder.workflows]
        if known:
            sagas = {recorder.workflows[_type(h)] for h in known}
            check.report = await assert_replays(known, sagas=sorted(sagas, key=repr))


def _type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the compensation coverage of every failure injector that checked cases."""
    for injector in INJECTORS:
        if injector.results:
            terminalreporter.write_line(injector.coverage().render())
