"""The dev server every benchmark runs against: in memory, quiet, saga-ready."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.testing import WorkflowEnvironment

from temporal_sagas._contract import SAGA_SEARCH_ATTRIBUTES
from temporal_sagas.workers import SagaPlugin, temporal_cli_path


async def start_dev_server(passthrough_modules: Sequence[str] = ()) -> WorkflowEnvironment:
    """An in-memory dev server with the saga search attributes; its client has `SagaPlugin`.

    Args:
        passthrough_modules: Modules the workers of this client pass through the workflow
            sandbox instead of importing them again for each workflow run.
    """
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(),
        search_attributes=SAGA_SEARCH_ATTRIBUTES,
        plugins=[SagaPlugin(passthrough_modules=passthrough_modules)],
        dev_server_log_level="error",
    )
