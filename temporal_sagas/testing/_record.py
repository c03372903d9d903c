"""Capture the histories of sagas a test session starts.

The test fixtures' clients carry a `RecordingPlugin`: a client interceptor notes
every workflow started (id, run id, type), and a worker hook notes the workflow
classes workers register. From those notes, ``--record-histories DIR`` writes every
history at the end of the session, and the ``replay_check`` fixture replays the
histories a test produced against the classes its workers ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import temporalio.client
from temporalio.client import Client, StartWorkflowInput, WorkflowHandle, WorkflowHistory
from temporalio.plugin import SimplePlugin
from temporalio.service import RPCError
from temporalio.worker import WorkerConfig

from temporal_sagas.testing._replay import write_history

__all__ = ["HistoryRecorder", "RecordingPlugin", "Started"]


@dataclass(frozen=True)
class Started:
    """A workflow run a recorded client started."""

    workflow_id: str
    run_id: str | None
    workflow_type: str


@dataclass
class HistoryRecorder:
    """What one client started and which workflow classes its workers registered."""

    started: list[Started] = field(default_factory=list)
    workflows: dict[str, type] = field(default_factory=dict)
    client: Client | None = None

    async def histories(self, since: int = 0) -> list[WorkflowHistory]:
        """Fetch the histories of the runs started from index ``since`` on (any state)."""
        assert self.client is not None, "the recorder's client is set by the fixture"
        fetched: list[WorkflowHistory] = []
        for run in self.started[since:]:
            handle = self.client.get_workflow_handle(run.workflow_id, run_id=run.run_id)
            try:
                fetched.append(await handle.fetch_history())
            except RPCError:  # gone (e.g. the namespace was reset); nothing to record
                continue
        return fetched

    async def write(self, directory: Path) -> list[Path]:
        """Write every recorded history into ``directory`` (wrapper layout)."""
        return [write_history(h, directory) for h in await self.histories()]


class _StartRecorder(temporalio.client.Interceptor):
    def __init__(self, recorder: HistoryRecorder) -> None:
        self._recorder = recorder

    def intercept_client(
        self, next: temporalio.client.OutboundInterceptor
    ) -> temporalio.client.OutboundInterceptor:
        return _StartOutbound(next, self._recorder)


class _StartOutbound(temporalio.client.OutboundInterceptor):
    def __init__(self, next: temporalio.client.OutboundInterceptor, recorder: HistoryRecorder):
        super().__init__(next)
        self._recorder = recorder

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        handle = await super().start_workflow(input)
        self._recorder.started.append(Started(input.id, handle.result_run_id, input.workflow))
        return handle


class RecordingPlugin(SimplePlugin):
    """Records started runs and registered workflow classes into a `HistoryRecorder`.

    Args:
        recorder: Where the notes go.
    """

    def __init__(self, recorder: HistoryRecorder) -> None:
        super().__init__(
            "temporal_sagas.testing.RecordingPlugin", interceptors=[_StartRecorder(recorder)]
        )
        self.recorder = recorder

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        """Note the workflow classes the worker registers, by workflow type name."""
        config = super().configure_worker(config)
        for cls in config.get("workflows") or ():
            defn = getattr(cls, "__temporal_workflow_definition", None)
            if defn is not None and defn.name:
                self.recorder.workflows[defn.name] = cls
        return config
