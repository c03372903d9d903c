"""`SagaPlugin`: the one object that configures Client, Worker and Replayer alike."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence

from temporalio.converter import DataConverter, DefaultFailureConverter, PayloadCodec
from temporalio.plugin import SimplePlugin
from temporalio.worker import Worker, WorkerConfig, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from temporal_sagas._operators import OperatorKeys, register_operator_keys
from temporal_sagas.audit._writer import EXIT_FLUSH_SECONDS, flush_audit_log
from temporal_sagas.workers._converter import SagaPayloadConverter
from temporal_sagas.workers._failures import EncodedSagaFailureConverter, SagaFailureConverter
from temporal_sagas.workers._interceptor import SagaInterceptor

#: Modules every saga worker passes through the sandbox: the framework itself (its
#: context variables must be the ones the interceptors see) and structlog (its
#: configuration must be the process's, and its locks are not sandbox-safe) and
#: cryptography (operator signatures are verified in update validators; its Rust
#: extension aborts the process if the sandbox imports it a second time).
PASSTHROUGH_MODULES = ("temporal_sagas", "structlog", "cryptography")


class SagaPlugin(SimplePlugin):
    """Configure a Temporal Client, Worker or Replayer for sagas.

    It sets the pydantic data converter (keeping any payload codec already set) and
    `SagaFailureConverter` (unless another failure converter was set; with a codec,
    `EncodedSagaFailureConverter`, so failure messages are encrypted too),
    installs the interceptor that carries step context to activities, and passes
    the framework and structlog through the workflow sandbox. A worker that runs
    with it waits, when it stops, until the audit events of its last workflow tasks
    were logged (`flush_audit_log`, at most 5 s). Give it to
    ``Client.connect(plugins=[SagaPlugin()])``; workers built from that client
    inherit it. Give it to ``Replayer(plugins=[SagaPlugin()])`` for replay tests.

    Args:
        passthrough_modules: More modules to pass through the sandbox (your model
            and activity modules, for speed and identity of their classes).
        codec: A payload codec, e.g. `EncryptionCodec`, applied to every payload
            the client, worker and replayer write or read.
        operator_keys: The operators whose signed ``retry``/``skip``/``resolve`` the
            worker's sagas accept (`OperatorKeys`, e.g. ``OperatorKeys.from_env()``).
            None is development mode: unsigned requests are accepted and recorded as
            unauthenticated. It is registered for the worker's task queue when the
            worker is built (the last `SagaPlugin` applied to a worker decides), and
            read only by update validators, which never run on replay.
    """

    def __init__(
        self,
        *,
        passthrough_modules: Sequence[str] = (),
        codec: PayloadCodec | None = None,
        operator_keys: OperatorKeys | None = None,
    ) -> None:
        self.operator_keys = operator_keys
        modules = (*PASSTHROUGH_MODULES, *passthrough_modules)

        def runner(existing: WorkflowRunner | None) -> WorkflowRunner:
            if existing is None:
                return SandboxedWorkflowRunner(
                    restrictions=SandboxRestrictions.default.with_passthrough_modules(*modules)
                )
            if isinstance(existing, SandboxedWorkflowRunner):
                restrictions = existing.restrictions.with_passthrough_modules(*modules)
                return dataclasses.replace(existing, restrictions=restrictions)
            return existing

        super().__init__(
            "temporal_sagas.SagaPlugin",
            data_converter=lambda existing: _pydantic_converter(existing, codec),
            interceptors=[SagaInterceptor()],
            workflow_runner=runner,
            workflows=_with_saga_services,
        )

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        """Configure the worker, and register its operator keys for its task queue."""
        config = super().configure_worker(config)
        task_queue = config.get("task_queue")
        if task_queue:
            register_operator_keys(task_queue, self.operator_keys)
        return config

    async def run_worker(self, worker: Worker, next: Callable[[Worker], Awaitable[None]]) -> None:
        """Run the worker; once it stopped, wait for the audit events it emitted.

        The engine's audit events are logged by a background thread, so the last
        workflow tasks' events may still be queued when the worker returns.
        """
        try:
            await super().run_worker(worker, next)
        finally:
            await asyncio.to_thread(flush_audit_log, EXIT_FLUSH_SECONDS)


def _with_saga_services(existing: Sequence[type] | None) -> list[type]:
    """A worker that runs workflows also runs `SagaRescue` and `SagaReconcile`.

    Both run on a saga's own task queue, so the workers already polling it (with its
    compensation and probe activities) run them. An activity-only worker stays one.
    """
    from temporal_sagas.workflows._reconcile import SagaReconcile
    from temporal_sagas.workflows._rescue import SagaRescue

    workflows = list(existing or [])
    if workflows:
        workflows += [w for w in (SagaRescue, SagaReconcile) if w not in workflows]
    return workflows


def _pydantic_converter(
    existing: DataConverter | None, codec: PayloadCodec | None
) -> DataConverter:
    base = existing or DataConverter.default
    if base.payload_converter_class is not SagaPayloadConverter:
        base = dataclasses.replace(base, payload_converter_class=SagaPayloadConverter)
    if base.failure_converter_class is DefaultFailureConverter:
        base = dataclasses.replace(base, failure_converter_class=SagaFailureConverter)
    if codec is not None and base.payload_codec is not codec:
        base = dataclasses.replace(base, payload_codec=codec)
    if base.payload_codec is not None and base.failure_converter_class is SagaFailureConverter:
        # A codec that left failure messages in clear would leave whatever they quote.
        base = dataclasses.replace(base, failure_converter_class=EncodedSagaFailureConverter)
    return base
