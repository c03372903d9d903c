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
        "MissingExtraError",
        "NotInSagaActivityError",
        "OperatorAction",
        "OperatorActionRejected",
        "OperatorKeys",
        "OperatorRequest",
        "OperatorSigner",
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
        "QUERY_STATE",
        "Saga",
        "SagaStep",
        "StepOptions",
        "UPDATE_RESOLVE",
        "UPDATE_RETRY",
        "UPDATE_SKIP",
        "saga_steps",
        "saga_workflow",
        "step",
    ],
    "temporal_sagas.activities": [
        "Claim",
        "DEFAULT_LEASE",
        "DEFAULT_SQLITE_PATH",
        "DEFAULT_TABLE",
        "DEFAULT_TTL",
        "DEFAULT_WAIT",
        "IdempotencyKeyBusyError",
        "IdempotencyStore",
        "IdempotencyStoreError",
        "IdempotentDefinitionError",
        "KeyRecord",
        "SQLiteStore",
        "current_idempotency_key",
        "current_step",
        "default_store",
        "idempotency_headers",
        "idempotent",
    ],
    "temporal_sagas.workers": [
        "BackgroundWorker",
        "ConnectError",
        "ConnectOptions",
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
    "temporal_sagas.audit": [
        "AuditEvent",
        "AuditSink",
        "AuditSinkError",
        "AuditSinkProcessor",
        "DEFAULT_REDACTED_KEYS",
        "JsonlAuditSink",
        "ReconcileReport",
        "Redactor",
        "audit_processors",
        "drop_replayed",
        "flush_audit_log",
        "read_jsonl",
        "reconcile",
    ],
    "temporal_sagas.postgres": [
        "DEFAULT_AUDIT_TABLE",
        "DEFAULT_OUTBOX_TABLE",
        "InboxEntry",
        "OutboxRelay",
        "OutboxRow",
        "PostgresAuditSink",
        "PostgresStore",
        "RelayReport",
        "create_outbox_table",
        "enqueue_saga",
        "relay_once",
        "run_relay",
    ],
    "temporal_sagas.definitions": [
        "DEFINITIONS",
        "DefinitionIssue",
        "DefinitionRegistry",
        "DefinitionSaga",
        "DefinitionSagaInput",
        "InvalidDefinitionError",
        "SagaDefinition",
        "check_definition",
        "load_definition",
        "parse_definition",
        "register_definition",
        "validate_definitions",
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
