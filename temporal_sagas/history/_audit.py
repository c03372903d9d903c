"""The audit trail of a saga, rebuilt from its history, and checks of shipped logs.

`audit_trail` gives exactly the events (same ids, same hashes) the engine emitted
live, because both build them with `temporal_sagas.audit._events.build_audit_trail` from
the same timeline. `verify_log` compares a shipped JSON-lines log against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError
from temporalio.client import WorkflowHistory

from temporal_sagas.audit._events import AuditEvent, SagaIdentity, build_audit_trail
from temporal_sagas.audit._seal import AuditSealer
from temporal_sagas.history._rebuild import SagaHistoryView, rebuild


def audit_trail(history: WorkflowHistory) -> list[AuditEvent]:
    """Return the saga's audit events, in order, hash-chained, from its history alone.

    Raises:
        SagaHistoryError: The history is not a saga's, or is empty.
    """
    return trail_of(rebuild(history))


def trail_of(view: SagaHistoryView) -> list[AuditEvent]:
    """The audit events of an already rebuilt saga."""
    state = view.state
    identity = SagaIdentity(
        saga=state.name,
        saga_key=state.key,
        workflow_id=state.workflow_id,
        run_id=state.run_id,
        correlation_id=view.correlation_id or state.workflow_id,
    )
    keys = {s.name: s.idempotency_key for s in state.steps}
    return build_audit_trail(state.timeline, identity=identity, step_keys=keys)


@dataclass(frozen=True)
class Altered:
    """An event whose shipped form differs from the history's.

    Attributes:
        event_id: The event.
        fields: The fields that differ (``hash`` alone: only the hash was changed).
        line: The line number in the shipped log (1-based).
    """

    event_id: str
    fields: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class AuditVerification:
    """The result of checking a shipped log against the history's trail.

    Attributes:
        missing: Event ids in the history but not in the log.
        extra: Event ids of this run in the log but not in the history.
        duplicated: Event ids logged more than once.
        altered: Events whose content or hash differs from the history's, and that
            carry no valid seal.
        unreadable: Line numbers that are not audit events at all.
        unsealed: With sealing keys: events of the history's that carry no valid seal
            (written by someone without the key, or by an unsealed sink).
        superseded: With sealing keys: validly sealed events whose content differs
            from the history's: written live by a workflow task that then ran again
            (after a server crash) and recorded another outcome. Genuine, not
            tampering; `reconcile` replaces them with the history's.
        abandoned: With sealing keys: validly sealed events of this run that the
            history does not hold: emitted by a workflow task that never completed.
        checked: How many events of this run the log holds.
    """

    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    duplicated: tuple[str, ...] = ()
    altered: tuple[Altered, ...] = ()
    unreadable: tuple[int, ...] = field(default=())
    unsealed: tuple[str, ...] = ()
    superseded: tuple[str, ...] = ()
    abandoned: tuple[str, ...] = ()
    checked: int = 0

    @property
    def ok(self) -> bool:
        """Whether the log holds the history's events, unaltered (re-runs reported apart)."""
        return not (
            self.missing
            or self.extra
            or self.duplicated
            or self.altered
            or self.unreadable
            or self.unsealed
        )


def verify_log(
    trail: list[AuditEvent], lines: Iterable[str], *, sealer: AuditSealer | None = None
) -> AuditVerification:
    """Check shipped JSON lines against ``trail``, event by event (by event id).

    Lines of other saga runs are ignored; blank lines are skipped. With ``sealer``
    (the audit keys), every line must carry a valid seal, and a sealed line that
    differs from the history, or that the history lacks, is reported as a genuine
    re-run artifact (``superseded``, ``abandoned``) rather than as tampering.
    """
    if not trail:
        return AuditVerification()
    run_id = trail[0].run_id
    expected = {e.event_id: e for e in trail}
    seen: dict[str, int] = {}
    duplicated: list[str] = []
    altered: list[Altered] = []
    extra: list[str] = []
    unreadable: list[int] = []
    unsealed: list[str] = []
    superseded: list[str] = []
    abandoned: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if raw.get("run_id") != run_id:
                continue
            shipped = AuditEvent.model_validate(raw)
        except (ValueError, ValidationError, AttributeError):
            unreadable.append(number)
            continue
        if shipped.event_id in seen:
            duplicated.append(shipped.event_id)
            continue
        seen[shipped.event_id] = number
        genuine = sealer is not None and sealer.check(shipped)
        want = expected.get(shipped.event_id)
        plain = shipped.unsealed()
        if want is None:
            (abandoned if genuine else extra).append(shipped.event_id)
        elif plain != want or plain.computed_hash() != plain.hash:
            if genuine:
                superseded.append(shipped.event_id)
            else:
                altered.append(Altered(shipped.event_id, _differences(want, plain), number))
        elif sealer is not None and not genuine:
            unsealed.append(shipped.event_id)
    missing = [e.event_id for e in trail if e.event_id not in seen]
    return AuditVerification(
        missing=tuple(missing),
        extra=tuple(extra),
        duplicated=tuple(duplicated),
        altered=tuple(altered),
        unreadable=tuple(unreadable),
        unsealed=tuple(unsealed),
        superseded=tuple(superseded),
        abandoned=tuple(abandoned),
        checked=len(seen),
    )


def _differences(want: AuditEvent, got: AuditEvent) -> tuple[str, ...]:
    names = [n for n in AuditEvent.model_fields if getattr(want, n) != getattr(got, n)]
    if got.computed_hash() != got.hash and "hash" not in names:
        names.append("hash")
    return tuple(names)
