"""Process wiring: the plugin that configures clients, workers and replayers; servers.

Also everything that runs a worker: `SagaApp` (what a worker serves),
`WorkerSettings` (flags, environment, settings file), `serve` (the ``sagas worker``
process), `run_worker_in_background` (a worker inside an app), metrics, health
probes and logging.
"""

from temporal_sagas.workers._app import SagaApp, load_app
from temporal_sagas.workers._codec import (
    EncryptionCodec,
    EncryptionKeyError,
    codec_from_env,
    decode_history,
)
from temporal_sagas.workers._connect import ConnectError, ConnectOptions, connect
from temporal_sagas.workers._embed import BackgroundWorker, run_worker_in_background
from temporal_sagas.workers._health import HealthServer
from temporal_sagas.workers._interceptor import SagaInterceptor
from temporal_sagas.workers._logging import configure_logging
from temporal_sagas.workers._metrics import SagaMetricsInterceptor, build_runtime
from temporal_sagas.workers._plugin import PASSTHROUGH_MODULES, SagaPlugin
from temporal_sagas.workers._run import build_worker, serve
from temporal_sagas.workers._servers import (
    ensure_search_attributes,
    temporal_cli_path,
    test_server_path,
)
from temporal_sagas.workers._settings import SettingsError, WorkerSettings

__all__ = [
    "PASSTHROUGH_MODULES",
    "BackgroundWorker",
    "ConnectError",
    "ConnectOptions",
    "EncryptionCodec",
    "EncryptionKeyError",
    "HealthServer",
    "SagaApp",
    "SagaInterceptor",
    "SagaMetricsInterceptor",
    "SagaPlugin",
    "SettingsError",
    "WorkerSettings",
    "build_runtime",
    "build_worker",
    "codec_from_env",
    "configure_logging",
    "connect",
    "decode_history",
    "ensure_search_attributes",
    "load_app",
    "run_worker_in_background",
    "serve",
    "temporal_cli_path",
    "test_server_path",
]
