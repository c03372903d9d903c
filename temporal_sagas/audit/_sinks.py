"""Audit sinks in the worker process, and the JSON-lines file sink.

The engine logs each saga transition once, with structlog, from workflow code.
`AuditSinkProcessor` is a structlog processor that hands those events (and only
those) to the sinks (`JsonlAuditSink` here, the PostgreSQL table in
`temporal_sagas.postgres`), in real time and best effort: a sink error is reported on the
standard ``logging`` stream and never reaches the workflow. Both sinks keep each
event id once. `reconcile` then makes a sink hold exactly a run's history-derived
trail: it adds what is missing, replaces what differs, and removes events of that
run the history does not have (emitted in a workflow task that never completed).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from temporal_sagas._errors import SagaError
from temporal_sagas.audit._events import AUDIT_MARKER, AuditEvent
from temporal_sagas.audit._seal import AuditSealer

_errors = logging.getLogger("temporal_sagas.audit.sinks")

#: Audit files are the owner's alone: they name sagas, keys and operators.
_PRIVATE = 0o600


class AuditSinkError(SagaError):
    """An audit sink could not be read or written."""


@dataclass(frozen=True)
class ReconcileReport:
    """What `reconcile` changed in a sink for one saga run.

    Attributes:
        added: Event ids that were missing and were written.
        replaced: Event ids whose stored form differed and was rewritten.
        removed: Event ids of the run that the history does not hold.
    """

    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


class AuditSink(Protocol):
    """Somewhere audit events go; each event id is kept once."""

    def write(self, event: AuditEvent) -> None:
        """Store ``event`` unless its id is already stored."""

    def stored(self, run_id: str) -> list[AuditEvent]:
        """The events of one saga run, in the order stored."""

    def replace_run(self, run_id: str, events: list[AuditEvent]) -> None:
        """Make the run's stored events exactly ``events``."""


class AuditSinkProcessor:
    """A structlog processor that writes saga audit events to sinks, best effort.

    Place it after the redaction processor and before the renderer. Other events
    pass through untouched; audit events also continue to the renderer.

    Args:
        sinks: Where audit events go.
    """

    def __init__(self, *sinks: AuditSink) -> None:
        self.sinks = sinks

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Write the event to every sink when it is an audit event."""
        if event_dict.get(AUDIT_MARKER) is True:
            try:
                event = AuditEvent.from_log_fields(event_dict)
            except ValueError as err:
                _errors.warning("malformed saga audit event dropped by the sinks: %s", err)
                return event_dict
            for sink in self.sinks:
                try:
                    sink.write(event)
                except Exception as err:  # best effort: reconcile() fills the gap later
                    _errors.warning(
                        "audit sink %s failed on %s: %s", type(sink).__name__, event.event_id, err
                    )
        return event_dict


class JsonlAuditSink:
    """Audit events as JSON lines in a file, each event id once.

    The ids already in the file are read on first write, so a restarted worker
    does not repeat an event its predecessor wrote. The file is opened per write so
    `reconcile` may rewrite it.

    The file is created readable and writable by its owner only (0600): audit events
    name sagas, keys and operators. Durability: each line is written with one
    ``write`` system call (a crash of the worker loses no written line) and, with
    ``fsync=True`` (the default), forced to disk before `write` returns (a crash of
    the machine loses none either); ``fsync=False`` leaves that to the OS, and
    `reconcile` restores from history whatever a crash lost.

    With a ``sealer`` (``SAGAS_AUDIT_KEYS`` for ``sagas worker``) each line carries a
    keyed seal (``mac``), so the file cannot be rewritten consistently without the key.

    Args:
        path: The file; created with its directory when missing.
        fsync: Force each line to disk before returning.
        sealer: Seals each line with the current audit key.
    """

    def __init__(
        self, path: str | Path, *, fsync: bool = True, sealer: AuditSealer | None = None
    ) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._sealer = sealer
        self._lock = threading.Lock()
        self._ids: set[str] | None = None

    def write(self, event: AuditEvent) -> None:
        """Append ``event`` unless its id is already in the file."""
        with self._lock:
            ids = self._known_ids()
            if event.event_id in ids:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = (self._sealed(event).canonical_json() + "\n").encode("utf-8")
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _PRIVATE)
            try:
                os.write(fd, line)
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            ids.add(event.event_id)

    def stored(self, run_id: str) -> list[AuditEvent]:
        """The events of ``run_id`` in the file, in file order."""
        return [e for e in (_parse(line) for line in self._lines()) if e and e.run_id == run_id]

    def replace_run(self, run_id: str, events: list[AuditEvent]) -> None:
        """Rewrite the file with ``events`` in place of the run's lines (atomically)."""
        with self._lock:
            kept: list[str] = []
            placed = False
            for line in self._lines():
                parsed = _parse(line)
                if parsed is None or parsed.run_id != run_id:
                    kept.append(line)
                elif not placed:
                    kept.extend(self._sealed(e).canonical_json() for e in events)
                    placed = True
            if not placed:
                kept.extend(self._sealed(e).canonical_json() for e in events)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_name(f".{self.path.name}.reconcile")
            fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _PRIVATE)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write("".join(f"{line}\n" for line in kept))
                out.flush()
                os.fsync(out.fileno())
            os.replace(scratch, self.path)
            self._ids = None

    def _sealed(self, event: AuditEvent) -> AuditEvent:
        return event if self._sealer is None else self._sealer.seal(event.unsealed())

    def _known_ids(self) -> set[str]:
        if self._ids is None:
            self._ids = {e.event_id for e in (_parse(line) for line in self._lines()) if e}
        return self._ids

    def _lines(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if line.strip()]


def reconcile(sink: AuditSink, trail: list[AuditEvent]) -> ReconcileReport:
    """Make ``sink`` hold exactly ``trail`` for its saga run (idempotent, by event id).

    Args:
        sink: The sink to repair.
        trail: The run's events from its history (`temporal_sagas.history.audit_trail`).
    """
    if not trail:
        return ReconcileReport()
    run_id = trail[0].run_id
    # A sealed line equals the history's event but for its seal.
    stored = {e.event_id: e.unsealed() for e in sink.stored(run_id)}
    order = [e.event_id for e in sink.stored(run_id)]
    wanted = {e.event_id: e for e in trail}
    report = ReconcileReport(
        added=tuple(i for i in wanted if i not in stored),
        replaced=tuple(i for i in wanted if i in stored and stored[i] != wanted[i]),
        removed=tuple(i for i in stored if i not in wanted),
    )
    in_order = order == list(wanted)
    if report.added or report.replaced or report.removed or not in_order:
        sink.replace_run(run_id, trail)
    return report


def _parse(line: str) -> AuditEvent | None:
    try:
        raw = json.loads(line)
        return AuditEvent.model_validate(raw) if isinstance(raw, dict) else None
    except ValueError:
        return None


def read_jsonl(lines: Iterable[str]) -> list[AuditEvent]:
    """Parse audit events from JSON lines, skipping lines that are not audit events."""
    return [e for e in (_parse(line) for line in lines if line.strip()) if e is not None]
