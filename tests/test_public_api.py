"""The public API is what the curated ``__all__`` lists say; this test pins it."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "temporal_sagas": [
        "AuditEvent",
        "CompensationPolicy",
        "CompensationRecord",
        "CompensationReport",
        "CompensationStatus",
        "DefinitionSaga",
        "DefinitionSagaInput",
        "EncryptionCodec",
        "FailureInfo",
        "NotInSagaActivityError",
        "OperatorAction",
        "OperatorActionRejected",
        "OperatorRequest",
        "Redactor",
        "SAGA_ABORTED",
        "SAGA_COMPENSATED",
        "SAGA_COMPENSATION_FAILED",
        "SAGA_NAME",
        "SAGA_STATUS",
        "Saga",
        "SagaApp",
        "SagaDefinitionError",
        "SagaError",
        "SagaEvent",
        "SagaEventKind",
        "SagaInputError",
        "SagaNotFoundError",
        "SagaPlugin",
        "SagaState",
        "SagaStatus",
        "StepContext",
        "StepOptions",
        "StepRecord",
        "StepStatus",
        "__version__",
        "audit_processors",
        "current_idempotency_key",
        "current_step",
        "drop_replayed",
        "flush_audit_log",
        "idempotent",
        "operator_action",
        "register_definition",
        "saga_state",
        "saga_workflow",
        "start_saga",
        "step",
    ],
    "temporal_sagas.workflows": [
        "DEFINITIONS",
        "DefinitionIssue",
        "DefinitionRegistry",
        "DefinitionSaga",
        "DefinitionSagaInput",
        "InvalidDefinitionError",
        "QUERY_STATE",
        "Saga",
        "SagaDefinition",
        "SagaStep",
        "StepOptions",
        "UPDATE_RESOLVE",
        "UPDATE_RETRY",
        "UPDATE_SKIP",
        "load_definition",
        "parse_definition",
        "register_definition",
        "saga_steps",
        "saga_workflow",
        "step",
        "validate_definitions",
    ],
    "temporal_sagas.activities": [
        "AuditSinkError",
        "AuditSinkProcessor",
        "Claim",
        "DEFAULT_AUDIT_TABLE",
        "DEFAULT_LEASE",
        "DEFAULT_OUTBOX_TABLE",
        "DEFAULT_SQLITE_PATH",
        "DEFAULT_TABLE",
        "DEFAULT_TTL",
        "DEFAULT_WAIT",
        "IdempotencyKeyBusyError",
        "IdempotencyStore",
        "IdempotencyStoreError",
        "IdempotentDefinitionError",
        "InboxEntry",
        "JsonlAuditSink",
        "KeyRecord",
        "OutboxRelay",
        "OutboxRow",
        "PostgresAuditSink",
        "PostgresStore",
        "ReconcileReport",
        "RelayReport",
        "SQLiteStore",
        "create_outbox_table",
        "current_idempotency_key",
        "current_step",
        "default_store",
        "enqueue_saga",
        "idempotency_headers",
        "idempotent",
        "read_jsonl",
        "reconcile",
        "relay_once",
        "run_relay",
    ],
    "temporal_sagas.workers": [
        "BackgroundWorker",
        "ConnectError",
        "EncryptionCodec",
        "EncryptionKeyError",
        "HealthServer",
        "PASSTHROUGH_MODULES",
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
    ],
    "temporal_sagas.history": [
        "Altered",
        "AuditVerification",
        "PlannedCompensation",
        "SagaHistoryError",
        "SagaHistoryView",
        "audit_trail",
        "compensation_plan",
        "dump_history",
        "history_file_name",
        "load_history",
        "rebuild",
        "render_saga",
        "saga_state_from_history",
        "verify_log",
    ],
    "temporal_sagas.testing": [
        "CaseResult",
        "CoverageReport",
        "FailureInjector",
        "HistoryFile",
        "InjectionCase",
        "ReplayFailure",
        "ReplayReport",
        "SagaContractViolation",
        "SagaReplayError",
        "assert_replays",
        "failure_cases",
        "load_histories",
        "replay_histories",
        "start_dev_server_env",
        "start_time_skipping_env",
        "write_history",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_exactly_the_pinned_ones(module: str) -> None:
    assert sorted(importlib.import_module(module).__all__) == sorted(PUBLIC[module])


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_resolves(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_error_derives_from_saga_error(module: str) -> None:
    import temporal_sagas as ts

    mod = importlib.import_module(module)
    errors = [
        getattr(mod, n)
        for n in mod.__all__
        if isinstance(getattr(mod, n), type) and issubclass(getattr(mod, n), Exception)
    ]
    assert all(issubclass(e, ts.SagaError) for e in errors), [
        e for e in errors if not issubclass(e, ts.SagaError)
    ]
