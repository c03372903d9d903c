"""Start the shipped Temporal servers, configured for sagas."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, Plugin
from temporalio.testing import WorkflowEnvironment

from temporal_sagas._search_attributes import SAGA_SEARCH_ATTRIBUTES
from temporal_sagas.workers._plugin import SagaPlugin
from temporal_sagas.workers._servers import temporal_cli_path, test_server_path


async def start_time_skipping_env(*, plugins: Sequence[Plugin] = ()) -> WorkflowEnvironment:
    """Start the time-skipping test server with `SagaPlugin` and the saga search attributes.

    Args:
        plugins: More client plugins, after `SagaPlugin` (e.g. a `RecordingPlugin`).
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_path(), plugins=[SagaPlugin(), *plugins]
    )
    await _add_search_attributes(env.client)
    return env


async def _add_search_attributes(client: Client) -> None:
    # The time-skipping server does not implement ListSearchAttributes (so
    # `ensure_search_attributes` cannot ask what is missing); a fresh server has none.
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
                for key in SAGA_SEARCH_ATTRIBUTES
            },
        )
    )


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
