"""Start the shipped Temporal servers, configured for sagas."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Plugin
from temporalio.testing import WorkflowEnvironment

from temporal_sagas._contract import SAGA_SEARCH_ATTRIBUTES
from temporal_sagas.workers._plugin import SagaPlugin
from temporal_sagas.workers._servers import (
    ensure_search_attributes,
    temporal_cli_path,
    test_server_path,
)


async def start_time_skipping_env(*, plugins: Sequence[Plugin] = ()) -> WorkflowEnvironment:
    """Start the time-skipping test server with `SagaPlugin` and the saga search attributes.

    Args:
        plugins: More client plugins, after `SagaPlugin` (e.g. a `RecordingPlugin`).
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_path(), plugins=[SagaPlugin(), *plugins]
    )
    await ensure_search_attributes(env.client)
    return env


async def start_dev_server_env(*, plugins: Sequence[Plugin] = ()) -> WorkflowEnvironment:
    """Start an in-memory dev server with `SagaPlugin` and the saga search attributes.

    Args:
        plugins: More client plugins, after `SagaPlugin` (e.g. a `RecordingPlugin`).
    """
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        search_attributes=SAGA_SEARCH_ATTRIBUTES,
        plugins=[SagaPlugin(), *plugins],
        dev_server_log_level="error",
    )
