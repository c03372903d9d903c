"""Replay recorded saga histories against the current code: the determinism check.

History files are JSON. Two layouts are accepted:

- the wrapper this package writes (`write_history`, ``--record-histories``, the
  golden histories)::

      {"workflow_id": "book-trip-42", "history": {"events": [...]}}

- a plain history, as ``temporal workflow show --output json`` or the Web UI
  export it (``{"events": [...]}``). A plain history does not carry its workflow
  id, so it is taken from the file name: ``<workflow_id>__<run_id>.json`` or
  ``<workflow_id>.json`` (``%2F`` in the name stands for ``/``).

Files are named ``<workflow_id>__<run_id>.json`` with the workflow id
percent-quoted, so one directory can hold many runs of one saga.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import Plugin, Replayer

from temporal_sagas._errors import SagaError
from temporal_sagas.history._files import read_history_json
from temporal_sagas.workers._plugin import SagaPlugin

__all__ = [
    "HistoryFile",
    "ReplayFailure",
    "ReplayReport",
    "SagaReplayError",
    "assert_replays",
    "history_file_name",
    "load_histories",
    "replay_histories",
    "write_history",
]

_EVENT_ID = re.compile(r"\bevent(?:[ _]id)?[ :=#]*(\d+)", re.IGNORECASE)
_ENCODED_SEPARATOR = "__"
_INNER_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
_QUOTED = re.compile(r"'([^']+)'")
_PATCH = re.compile(r"for change (\S+?),")


class ReplayFailure(BaseModel):
    """One history that the current code cannot replay.

    Attributes:
        workflow_id: The saga's workflow id.
        run_id: The run whose history diverged.
        workflow_type: The workflow type recorded in the history.
        event_id: The history event the divergence was found at, when Temporal's
            message names one.
        message: Temporal's message, verbatim.
        source: Where the history came from (a file path, or ``server``).
    """

    model_config = ConfigDict(frozen=True)

    workflow_id: str
    run_id: str
    workflow_type: str
    event_id: int | None
    message: str
    source: str

    def describe(self) -> str:
        """One line: saga, run, event and Temporal's message."""
        at = f"event {self.event_id}" if self.event_id is not None else "event unknown"
        return (
            f"{self.workflow_type} {self.workflow_id} (run {self.run_id}, {at}, "
            f"from {self.source}): {self.message}"
        )


class ReplayReport(BaseModel):
    """The outcome of replaying a batch of histories.

    Attributes:
        replayed: How many histories were replayed.
        failures: The histories that diverged, in input order.
    """

    model_config = ConfigDict(frozen=True)

    replayed: int
    failures: tuple[ReplayFailure, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every history replayed."""
        return not self.failures


class SagaReplayError(SagaError, AssertionError):
    """The current saga code cannot replay one or more recorded histories.

    Deploying this code would break the sagas those histories belong to: their
    workflow tasks would fail with a nondeterminism error. Guard the change with
    ``workflow.patched()``, or ship it as a new saga (see docs/versioning.md).

    Attributes:
        report: Every failing history with its workflow id, run id, event and message.
    """

    def __init__(self, report: ReplayReport) -> None:
        self.report = report
        lines = "\n".join(f"  - {f.describe()}" for f in report.failures)
        super().__init__(
            f"{len(report.failures)} of {report.replayed} saga histories do not replay "
            f"against the current code:\n{lines}\n"
            "Guard the change with workflow.patched() or ship a new saga version "
            "(docs/versioning.md)."
        )


@dataclass(frozen=True)
class HistoryFile:
    """A history with where it came from."""

    history: WorkflowHistory
    source: str


# -- files ---------------------------------------------------------------------------------


def history_file_name(history: WorkflowHistory) -> str:
    """The file name a history is stored under: ``<quoted workflow id>__<run id>.json``."""
    return f"{quote(history.workflow_id, safe='')}{_ENCODED_SEPARATOR}{history.run_id}.json"


def write_history(history: WorkflowHistory, directory: Path) -> Path:
    """Write ``history`` into ``directory`` in the wrapper layout; return the file's path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / history_file_name(history)
    document = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_history(path: Path) -> WorkflowHistory:
    """Read one history file in either accepted layout.

    Raises:
        SagaError: The file is not JSON, or not a Temporal history (`SagaHistoryError`
            when it cannot be read, is beyond the history file limits or is not JSON).
    """
    # Within the size and nesting limits of every history file (docs/inspection.md).
    document: Any = read_history_json(path)
    if isinstance(document, dict) and "history" in document and "workflow_id" in document:
        workflow_id, body = str(document["workflow_id"]), document["history"]
    else:
        workflow_id, body = _workflow_id_from_name(path), document
    if not isinstance(body, dict) or not body.get("events"):
        raise SagaError(
            f"{path} is not a Temporal history: expected {{'events': [...]}} or "
            "{'workflow_id': ..., 'history': {'events': [...]}}; export one with "
            "`temporal workflow show --output json -w ID`"
        )
    try:
        return WorkflowHistory.from_json(workflow_id, body)
    except Exception as err:
        raise SagaError(
            f"{path} is not a valid Temporal history: {' '.join(str(err).split())[:500]}"
        ) from err


def _workflow_id_from_name(path: Path) -> str:
    stem = path.name.removesuffix(".json")
    workflow_id = stem.rsplit(_ENCODED_SEPARATOR, 1)[0] if _ENCODED_SEPARATOR in stem else stem
    return unquote(workflow_id)


def load_histories(paths: Iterable[str | Path]) -> list[HistoryFile]:
    """Load history files; a directory contributes every ``*.json`` below it, sorted.

    Raises:
        SagaError: A path does not exist or a file is not a history.
    """
    loaded: list[HistoryFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.json") if p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise SagaError(f"history path {path} does not exist")
        loaded.extend(HistoryFile(read_history(f), str(f)) for f in files)
    return loaded


# -- replay --------------------------------------------------------------------------------


HistoryLike = WorkflowHistory | HistoryFile | str | Path


def _as_history_files(histories: HistoryLike | Iterable[HistoryLike]) -> list[HistoryFile]:
    items: Iterable[HistoryLike] = (
        [histories]
        if isinstance(histories, WorkflowHistory | HistoryFile | str | Path)
        else histories
    )
    result: list[HistoryFile] = []
    for item in items:
        if isinstance(item, HistoryFile):
            result.append(item)
        elif isinstance(item, WorkflowHistory):
            result.append(HistoryFile(item, "memory"))
        else:
            result.extend(load_histories([item]))
    return result


def make_replayer(
    sagas: Sequence[type],
    plugins: Sequence[Plugin] | None = None,
    *,
    runtime: Runtime | None = None,
) -> Replayer:
    """A `Replayer` configured like a saga worker: `SagaPlugin` unless ``plugins`` is given."""
    if not sagas:
        raise SagaError("no saga workflow classes given to replay against; pass sagas=[...]")
    return Replayer(
        workflows=list(sagas),
        plugins=list(plugins) if plugins is not None else [SagaPlugin()],
        runtime=runtime,
    )


async def replay_histories(
    histories: HistoryLike | Iterable[HistoryLike],
    *,
    sagas: Sequence[type],
    plugins: Sequence[Plugin] | None = None,
    replayer: Replayer | None = None,
    jobs: int = 1,
    core_logs: bool = True,
) -> ReplayReport:
    """Replay histories against ``sagas`` and report every one that diverges.

    Args:
        histories: Histories, history files, or directories of them.
        sagas: The workflow classes (the new build) to replay against.
        plugins: The replayer's plugins; defaults to ``[SagaPlugin()]``, as workers use.
        replayer: A ready replayer to reuse (then ``sagas`` and ``plugins`` are ignored).
        jobs: Replay in this many processes (default SagaPlugin configuration
            only). Replay is CPU-bound in the SDK core, so a bulk gate scales with
            cores; each process pays about half a second to start.
        core_logs: Let the SDK core print its warnings (a nondeterminism WARN line per
            diverging history, with terminal colours) on standard error. The report
            already names each failure; ``sagas replay`` turns them off unless
            ``--verbose``.

    Returns:
        How many were replayed, and the failures.
    """
    files = _as_history_files(histories)
    if jobs > 1 and replayer is None and plugins is None and len(files) > jobs:
        return await _replay_in_processes(files, sagas, jobs, core_logs=core_logs)
    replayer = replayer or make_replayer(
        sagas, plugins, runtime=None if core_logs else quiet_runtime()
    )
    sources = {id(f.history): f.source for f in files}

    async def feed() -> AsyncIterator[WorkflowHistory]:
        for f in files:
            yield f.history

    failed: list[tuple[WorkflowHistory, Exception]] = []
    async with replayer.workflow_replay_iterator(feed()) as results:
        async for result in results:
            if result.replay_failure is not None:
                failed.append((result.history, result.replay_failure))
    failures = [
        _failure(
            history,
            error,
            sources[id(history)],
            await locate_divergence(replayer, history, temporal_message(error)),
        )
        for history, error in failed
    ]
    return ReplayReport(replayed=len(files), failures=tuple(failures))


async def assert_replays(
    histories: HistoryLike | Iterable[HistoryLike],
    *,
    sagas: Sequence[type],
    plugins: Sequence[Plugin] | None = None,
) -> ReplayReport:
    """Assert the current saga code replays every history deterministically.

    Example:
        ```python
        await assert_replays(Path("tests/histories"), sagas=[BookTrip])
        ```

    Args:
        histories: Histories, history files, or directories of them.
        sagas: The workflow classes to replay against, as the worker registers them.
        plugins: The replayer's plugins; defaults to ``[SagaPlugin()]``, as workers use.

    Returns:
        The report, when every history replayed.

    Raises:
        SagaReplayError: Listing every history that diverged (an ``AssertionError``).
    """
    report = await replay_histories(histories, sagas=sagas, plugins=plugins)
    if not report.ok:
        raise SagaReplayError(report)
    return report


def _failure(
    history: WorkflowHistory, error: Exception, source: str, event_id: int | None
) -> ReplayFailure:
    first = history.events[0].workflow_execution_started_event_attributes
    return ReplayFailure(
        workflow_id=history.workflow_id,
        run_id=history.run_id,
        workflow_type=first.workflow_type.name,
        event_id=event_id,
        message=temporal_message(error),
        source=source,
    )


def temporal_message(error: Exception) -> str:
    """Temporal's own message from a replay failure, without the Rust debug wrapping."""
    text = str(error) or type(error).__name__
    inner = _INNER_MESSAGE.search(text)
    return inner.group(1).replace('\\"', '"') if inner else text


async def locate_divergence(
    replayer: Replayer, history: WorkflowHistory, message: str
) -> int | None:
    """The id of the history event where replay diverged, or None when it cannot be told.

    Temporal's message names the event id for some failures; for activity mismatches it
    names the recorded activity id or type instead. Several events may carry that type
    (every ``undo`` compensation, say), so each candidate is tried by replaying the
    history cut just after the workflow task that follows it: the first cut that fails
    holds the divergence.
    """
    named = _EVENT_ID.search(message)
    if named:
        return int(named.group(1))
    quoted = set(_QUOTED.findall(message)) | set(_PATCH.findall(message))
    candidates = [e.event_id for e in history.events if quoted & _event_names(e)]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    for event_id in candidates:
        cut = _cut_after_next_task(history, event_id)
        if cut is None:
            return event_id
        result = await replayer.replay_workflow(cut, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            return event_id
    return None


def _event_names(event: HistoryEvent) -> set[str]:
    if event.HasField("activity_task_scheduled_event_attributes"):
        attrs = event.activity_task_scheduled_event_attributes
        return {attrs.activity_id, attrs.activity_type.name}
    if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
        child = event.start_child_workflow_execution_initiated_event_attributes
        return {child.workflow_id, child.workflow_type.name}
    if event.HasField("marker_recorded_event_attributes"):
        return _patch_id(event)
    if event.HasField("timer_started_event_attributes"):
        return {event.timer_started_event_attributes.timer_id}
    return set()


def _patch_id(event: HistoryEvent) -> set[str]:
    # Patch markers (``core_patch``) carry {"id": <patch id>, ...} as JSON in "patch-data".
    data = event.marker_recorded_event_attributes.details.get("patch-data")
    if data is None or not data.payloads:
        return set()
    try:
        patch = json.loads(data.payloads[0].data)
    except ValueError:
        return set()
    return {patch["id"]} if isinstance(patch, dict) and isinstance(patch.get("id"), str) else set()


def _cut_after_next_task(history: WorkflowHistory, event_id: int) -> WorkflowHistory | None:
    for index, event in enumerate(history.events):
        if event.event_id > event_id and event.HasField("workflow_task_started_event_attributes"):
            return WorkflowHistory(history.workflow_id, history.events[: index + 1])
    return None


# -- parallel replay -----------------------------------------------------------------------


@functools.cache
def quiet_runtime() -> Runtime:
    """A Temporal runtime whose SDK core keeps its log lines to itself.

    The core writes them to standard output by itself; forwarded into a logger of
    their own that drops them, they never reach the terminal. One per process.
    """
    import logging

    sink = logging.getLogger("temporal_sagas.replay.core")
    sink.addHandler(logging.NullHandler())
    sink.propagate = False
    quiet = LoggingConfig(
        filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=sink),
    )
    return Runtime(telemetry=TelemetryConfig(logging=quiet))


async def _replay_in_processes(
    files: list[HistoryFile], sagas: Sequence[type], jobs: int, *, core_logs: bool
) -> ReplayReport:
    import asyncio
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    refs = [f"{cls.__module__}:{cls.__qualname__}" for cls in sagas]
    numbered = list(enumerate(files))
    chunks = [
        [(n, f.history.workflow_id, f.history.to_json(), f.source) for n, f in numbered[i::jobs]]
        for i in range(jobs)
    ]
    # spawn: the SDK's runtime threads do not survive a fork.
    context = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        parts = await asyncio.gather(
            *(loop.run_in_executor(pool, _replay_chunk, refs, chunk, core_logs) for chunk in chunks)
        )
    found = sorted((n, raw) for part in parts for n, raw in part)
    failures = tuple(ReplayFailure.model_validate_json(raw) for _, raw in found)
    return ReplayReport(replayed=len(files), failures=failures)


def _replay_chunk(
    refs: list[str], chunk: list[tuple[int, str, str, str]], core_logs: bool
) -> list[tuple[int, str]]:
    """Run in a child process: replay one share of the histories, return failures as JSON."""
    import asyncio

    from temporal_sagas._targets import resolve

    sagas = [resolve(ref, option="saga reference") for ref in refs]
    numbers = [n for n, _, _, _ in chunk]
    files = [
        HistoryFile(history=WorkflowHistory.from_json(wid, text), source=source)
        for _, wid, text, source in chunk
    ]
    report = asyncio.run(replay_histories(files, sagas=sagas, core_logs=core_logs))
    by_run = {}
    for failure in report.failures:
        by_run[(failure.workflow_id, failure.run_id)] = failure
    return [
        (n, by_run[(f.history.workflow_id, f.history.run_id)].model_dump_json())
        for n, f in zip(numbers, files, strict=True)
        if (f.history.workflow_id, f.history.run_id) in by_run
    ]
