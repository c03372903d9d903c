"""Testing helpers for sagas: servers, replay checks, compensation properties, pytest plugin."""

from temporal_sagas.testing._environments import start_dev_server_env, start_time_skipping_env
from temporal_sagas.testing._injection import (
    CaseResult,
    CoverageReport,
    FailureInjector,
    InjectionCase,
    SagaContractViolation,
    failure_cases,
)
from temporal_sagas.testing._properties import (
    CompensationProperty,
    CompensationPropertyError,
    check_compensation,
)
from temporal_sagas.testing._replay import (
    HistoryFile,
    ReplayFailure,
    ReplayReport,
    SagaReplayError,
    assert_replays,
    load_histories,
    replay_histories,
    write_history,
)

__all__ = [
    "CaseResult",
    "CompensationProperty",
    "CompensationPropertyError",
    "CoverageReport",
    "FailureInjector",
    "HistoryFile",
    "InjectionCase",
    "ReplayFailure",
    "ReplayReport",
    "SagaContractViolation",
    "SagaReplayError",
    "assert_replays",
    "check_compensation",
    "failure_cases",
    "load_histories",
    "replay_histories",
    "start_dev_server_env",
    "start_time_skipping_env",
    "write_history",
]
