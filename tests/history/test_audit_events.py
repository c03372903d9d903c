"""Audit events from stored histories: ids, causes, durations, attempts and the hash chain."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from temporal_sagas.history import audit_trail, load_history, verify_log
from tests.history.audit_support import audit_kinds_from_events

HISTORIES = Path(__file__).parent / "histories"


def test_events_chain_by_hash_in_order() -> None:
    trail = audit_trail(load_history(HISTORIES / "compensated.history.json"))
    assert trail[0].prev_hash is None
    for before, after in pairwise(trail):
        assert after.prev_hash == before.hash
    assert all(e.hash == e.computed_hash() for e in trail)


def test_completions_are_caused_by_their_scheduling_and_carry_its_duration() -> None:
    trail = audit_trail(load_history(HISTORIES / "compensated.history.json"))
    by_id = {e.event_id: e for e in trail}
    for event in trail:
        if event.kind.value in ("step.completed", "compensation.completed"):
            cause = by_id[event.causation_id or ""]
            assert cause.kind.value == event.kind.value.replace("completed", "scheduled")
            assert cause.step == event.step
            assert event.duration_ms == round((event.at - cause.at).total_seconds() * 1000, 3)


def test_compensation_events_carry_the_compensation_key() -> None:
    trail = audit_trail(load_history(HISTORIES / "compensated.history.json"))
    comp = [e for e in trail if e.kind.value.startswith("compensation.")]
    assert comp
    assert all(e.idempotency_key and e.idempotency_key.endswith("/compensate") for e in comp)


def test_an_operator_retry_counts_as_a_second_attempt() -> None:
    trail = audit_trail(load_history(HISTORIES / "retried.history.json"))
    charge = [
        e.attempt for e in trail if e.kind.value == "compensation.scheduled" and e.step == "charge"
    ]
    assert charge == [1, 2]


def test_verify_matches_by_event_id_and_catches_a_changed_hash() -> None:
    trail = audit_trail(load_history(HISTORIES / "completed.history.json"))
    lines = [e.canonical_json() for e in trail]
    assert verify_log(trail, reversed(lines)).ok
    forged = trail[2].model_copy(update={"hash": "0" * 64}).canonical_json()
    result = verify_log(trail, [*lines[:2], forged, *lines[3:]])
    assert [(a.event_id, a.fields) for a in result.altered] == [(trail[2].event_id, ("hash",))]


@pytest.mark.parametrize("case", ["completed", "compensated", "failed"])
def test_a_trail_has_one_event_per_activity_scheduled_and_closed_in_the_history(
    case: str,
) -> None:
    history = load_history(HISTORIES / f"{case}.history.json")
    kinds = Counter(e.kind.value for e in audit_trail(history))
    assert kinds == audit_kinds_from_events(history)
