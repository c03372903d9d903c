"""Audit events: one per saga transition, with ids, causes and a hash chain.

This module is pure (hashing and JSON only) and safe inside the workflow sandbox.
The engine builds each `AuditEvent` from its live timeline when it emits it;
`temporal_sagas.history.audit_trail` builds the same events from a history. Both go
through `AuditChain`, so equal timelines give equal events, ids and hashes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from temporal_sagas._contract import compensation_key
from temporal_sagas._models import SagaEvent, SagaEventKind, SagaStatus

#: The key that marks a structlog event dict as a saga audit event.
AUDIT_MARKER = "saga_audit"

_COMPLETIONS = {
    SagaEventKind.STEP_COMPLETED: SagaEventKind.STEP_SCHEDULED,
    SagaEventKind.STEP_FAILED: SagaEventKind.STEP_SCHEDULED,
    SagaEventKind.COMPENSATION_COMPLETED: SagaEventKind.COMPENSATION_SCHEDULED,
    SagaEventKind.COMPENSATION_FAILED: SagaEventKind.COMPENSATION_SCHEDULED,
}
_OPENINGS = (SagaEventKind.STEP_SCHEDULED, SagaEventKind.COMPENSATION_SCHEDULED)
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_COMPENSATION_KINDS = frozenset(
    {
        SagaEventKind.COMPENSATION_SCHEDULED,
        SagaEventKind.COMPENSATION_COMPLETED,
        SagaEventKind.COMPENSATION_FAILED,
    }
)


class AuditEvent(BaseModel):
    """One saga transition as written to the audit log.

    Attributes:
        event_id: ``<run id>/<WorkflowTaskStarted event id>.<index in that task>``:
            derived from the history position, so the same on every replay.
        kind: The transition (``step.completed``, ...).
        at: The workflow time of the transition (start of its workflow task).
        saga: The saga's name.
        saga_key: The saga's business key.
        workflow_id: The saga's workflow id.
        run_id: The saga's run id.
        step: The step the transition concerns, if any.
        status: The saga's status right after the transition.
        idempotency_key: The key of the action or compensation concerned.
        attempt: The round of the step or compensation (operator retries and
            post-pivot retries add rounds; activity-level retries are not counted).
        duration_ms: For completions and failures: milliseconds since scheduling.
        error: ``type: message`` and causes of the failure, if any.
        detail: Free text the engine attached (operator reason, close status, ...).
        correlation_id: Shared by everything one business request caused: the root
            workflow id (a child saga carries its root's).
        causation_id: The event that led to this one: a completion's scheduling,
            else the saga's previous event.
        prev_hash: ``hash`` of the saga run's previous event (None for the first).
        hash: SHA-256 over the canonical JSON of every other field (``mac`` aside).
        mac: ``<key id>:<HMAC-SHA256 of hash>``, added by a sink that seals its lines
            with a key (`AuditSealer`); None when unsealed. Without the key, a rewritten
            file cannot carry valid seals, whereas ``hash`` alone can be recomputed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    kind: SagaEventKind
    at: datetime
    saga: str
    saga_key: str
    workflow_id: str
    run_id: str
    step: str | None = None
    status: SagaStatus | None = None
    idempotency_key: str | None = None
    attempt: int | None = None
    duration_ms: float | None = None
    error: str | None = None
    detail: str | None = None
    correlation_id: str
    causation_id: str | None = None
    prev_hash: str | None = None
    hash: str = Field(description="SHA-256 hex over the canonical JSON without this field.")
    mac: str | None = None

    def canonical_json(self) -> str:
        """The event as canonical JSON (sorted keys, no spaces), ``hash`` included.

        ``mac`` is written only when the event is sealed.
        """
        return _canonical(self.model_dump(mode="json", exclude=_UNSEALED if not self.mac else None))

    def computed_hash(self) -> str:
        """Recompute the hash from the other fields (to detect tampering)."""
        body = self.model_dump(mode="json", exclude={"hash", "mac"})
        return hashlib.sha256(_canonical(body).encode()).hexdigest()

    def unsealed(self) -> AuditEvent:
        """The event without its seal: what the history's trail holds."""
        return self if self.mac is None else self.model_copy(update={"mac": None})

    def log_fields(self) -> dict[str, Any]:
        """The fields as structlog key-values (the event name is the ``kind``)."""
        fields = self.model_dump(mode="json", exclude=_UNSEALED)
        fields[AUDIT_MARKER] = True
        return fields

    @classmethod
    def from_log_fields(cls, fields: Mapping[str, Any]) -> AuditEvent:
        """Rebuild the event from a structlog event dict made by `log_fields`."""
        return cls.model_validate({name: fields.get(name) for name in cls.model_fields})


#: Left out of an unsealed event's JSON, so that lines written before seals existed and
#: lines of unsealed sinks read and hash as they always did.
_UNSEALED = {"mac"}


class SagaIdentity(BaseModel):
    """What every audit event of one saga run shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    saga: str
    saga_key: str
    workflow_id: str
    run_id: str
    correlation_id: str


def event_id(run_id: str, task_started_event_id: int, index: int) -> str:
    """The audit event id of the ``index``-th transition of a workflow task."""
    return f"{run_id}/{task_started_event_id}.{index}"


class AuditChain:
    """Builds one saga run's audit events in order, each chained to the one before.

    The engine feeds it every transition as it happens; `build_audit_trail` feeds it a
    whole timeline rebuilt from history. Both therefore produce the same fields, ids
    and hashes. Each event costs O(1): the chain remembers the last opening and the
    round count per step instead of rescanning the timeline.
    """

    def __init__(self, identity: SagaIdentity) -> None:
        """Start an empty chain for the saga run ``identity`` names."""
        self._identity = identity.model_dump()
        self._run_id = identity.run_id
        self._count = 0
        self._last: SagaEvent | None = None
        # Per (opening kind, step): the newest opening event and how many there were.
        self._openings: dict[tuple[SagaEventKind, str], SagaEvent] = {}
        self._rounds: dict[tuple[SagaEventKind, str], int] = {}
        self._at: tuple[datetime, str] | None = None
        self.last_hash: str | None = None

    def append(self, event: SagaEvent, step_key: str | None) -> dict[str, Any]:
        """The JSON-ready fields of ``event`` (``hash`` included), and advance the chain.

        Args:
            event: The next transition of the run.
            step_key: The idempotency key of the action of ``event.step``, if any.
        """
        cause = self._cause(event)
        key = step_key if event.step is not None else None
        if key is not None and event.kind in _COMPENSATION_KINDS:
            key = compensation_key(key)
        duration = None
        if cause is not None and event.kind in _COMPLETIONS:
            duration = round((event.at - cause.at).total_seconds() * 1000, 3)
        fields: dict[str, Any] = {
            "event_id": event.event_id or f"{self._run_id}/?{self._count}",
            "kind": event.kind.value,
            "at": self._iso(event.at),
            **self._identity,
            "step": event.step,
            "status": event.status.value if event.status is not None else None,
            "idempotency_key": key,
            "attempt": self._attempt(event),
            "duration_ms": duration,
            "error": _error(event),
            "detail": event.detail,
            "causation_id": cause.event_id if cause is not None else None,
            "prev_hash": self.last_hash,
        }
        fields["hash"] = hashlib.sha256(_canonical(fields).encode()).hexdigest()
        self._advance(event)
        self.last_hash = fields["hash"]
        return fields

    def _cause(self, event: SagaEvent) -> SagaEvent | None:
        opening = _COMPLETIONS.get(event.kind)
        if opening is not None and event.step is not None:
            found = self._openings.get((opening, event.step))
            if found is not None:
                return found
        return self._last

    def _attempt(self, event: SagaEvent) -> int | None:
        if event.step is None:
            return None
        opening = _COMPLETIONS.get(event.kind, event.kind)
        if opening not in _OPENINGS:
            return None
        rounds = self._rounds.get((opening, event.step), 0)
        return rounds + 1 if event.kind is opening else max(rounds, 1)

    def _advance(self, event: SagaEvent) -> None:
        self._count += 1
        self._last = event
        if event.step is not None and event.kind in _OPENINGS:
            slot = (event.kind, event.step)
            self._openings[slot] = event
            self._rounds[slot] = self._rounds.get(slot, 0) + 1

    def _iso(self, at: datetime) -> str:
        # Every transition of one workflow task shares its time; format it once.
        if self._at is None or self._at[0] != at:
            self._at = (at, _DATETIME.dump_python(at, mode="json"))
        return self._at[1]


def build_audit_trail(
    timeline: Sequence[SagaEvent], *, identity: SagaIdentity, step_keys: Mapping[str, str]
) -> list[AuditEvent]:
    """Build the whole hash-chained trail of a timeline."""
    chain = AuditChain(identity)
    return [
        AuditEvent.model_validate(
            chain.append(event, step_keys.get(event.step) if event.step else None)
        )
        for event in timeline
    ]


def _error(event: SagaEvent) -> str | None:
    if event.failure is None:
        return None
    parts = [f"{event.failure.type}: {event.failure.message}", *event.failure.causes]
    return " <- ".join(parts)


#: One encoder for every hash: ``json.dumps`` with options builds a new encoder per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: Any) -> str:
    return _CANONICAL.encode(value)
