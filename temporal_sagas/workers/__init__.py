"""Process wiring: the plugin that configures clients, workers and replayers; servers."""

from temporal_sagas.workers._interceptor import SagaInterceptor
from temporal_sagas.workers._plugin import PASSTHROUGH_MODULES, SagaPlugin
from temporal_sagas.workers._servers import (
    ensure_search_attributes,
    temporal_cli_path,
    test_server_path,
)

__all__ = [
    "PASSTHROUGH_MODULES",
    "SagaInterceptor",
    "SagaPlugin",
    "ensure_search_attributes",
    "temporal_cli_path",
    "test_server_path",
]
