"""Testing helpers for sagas: server environments and the pytest plugin."""

from temporal_sagas.testing._environments import start_dev_server_env, start_time_skipping_env

__all__ = ["start_dev_server_env", "start_time_skipping_env"]
