"""Stored histories rebuild to the SagaState the live query answered when they were recorded.

tests/history/record.py writes both files of each case from one live run. Beside the
rebuild-equals-live check, every case pins what the run did as literals read off the
raw history events and the scripted saga, so neither file can drift without a test
naming the difference.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from temporal_sagas import SagaState
from temporal_sagas.history import load_history, saga_state_from_history

HISTORIES = Path(__file__).parent / "histories"
CASES = ["completed", "compensated", "parked", "failed", "cancelled", "retried"]


@dataclass(frozen=True)
class Truth:
    """What one recorded run did, written down by hand from its script."""

    activities: list[str]  # ActivityTaskScheduled activity ids in order, after "scripted/<wid>/"
    outcomes: dict[str, int]  # activity closing events by type
    last_event: str  # the history's last event type (a parked saga has not closed)
    requests: list[str]  # what a client asked of the running saga, in order
    status: str
    steps: list[tuple[str, str, str | None]]  # (step, step status, compensation status)


TRUTH = {
    "completed": Truth(
        ["reserve", "charge", "notify"],
        {"COMPLETED": 3},
        "WORKFLOW_EXECUTION_COMPLETED",
        [],
        "COMPLETED",
        [
            ("reserve", "COMPLETED", "NOT_NEEDED"),
            ("charge", "COMPLETED", None),
            ("notify", "COMPLETED", None),
        ],
    ),
    "compensated": Truth(
        ["reserve", "charge", "ship", "ship/compensate", "charge/compensate", "reserve/compensate"],
        {"COMPLETED": 5, "FAILED": 1},
        "WORKFLOW_EXECUTION_FAILED",
        [],
        "COMPENSATED",
        [
            ("reserve", "COMPLETED", "COMPLETED"),
            ("charge", "COMPLETED", "COMPLETED"),
            ("ship", "FAILED", "COMPLETED"),
        ],
    ),
    "parked": Truth(
        ["reserve", "charge", "ship", "ship/compensate", "charge/compensate"],
        {"COMPLETED": 3, "FAILED": 2},
        "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
        [],
        "NEEDS_ATTENTION",
        [
            ("reserve", "COMPLETED", "REGISTERED"),
            ("charge", "COMPLETED", "FAILED"),
            ("ship", "FAILED", "COMPLETED"),
        ],
    ),
    "failed": Truth(
        ["reserve", "charge", "ship", "ship/compensate", "charge/compensate"],
        {"COMPLETED": 3, "FAILED": 2},
        "WORKFLOW_EXECUTION_FAILED",
        [],
        "FAILED",
        [
            ("reserve", "COMPLETED", "REGISTERED"),
            ("charge", "COMPLETED", "FAILED"),
            ("ship", "FAILED", "COMPLETED"),
        ],
    ),
    "cancelled": Truth(
        ["reserve", "charge", "charge/compensate", "reserve/compensate"],
        {"COMPLETED": 3, "CANCEL_REQUESTED": 1},
        "WORKFLOW_EXECUTION_CANCELED",
        ["cancel"],
        "CANCELLED",
        [("reserve", "COMPLETED", "COMPLETED"), ("charge", "CANCELLED", "COMPLETED")],
    ),
    "retried": Truth(
        [
            "reserve",
            "charge",
            "ship",
            "ship/compensate",
            "charge/compensate",
            "charge/compensate#2",
            "reserve/compensate",
        ],
        {"COMPLETED": 5, "FAILED": 2},
        "WORKFLOW_EXECUTION_FAILED",
        ["saga_retry by ana: back"],
        "COMPENSATED",
        [
            ("reserve", "COMPLETED", "COMPLETED"),
            ("charge", "COMPLETED", "COMPLETED"),
            ("ship", "FAILED", "COMPLETED"),
        ],
    ),
}


def live_state(case: str) -> SagaState:
    return SagaState.model_validate_json((HISTORIES / f"{case}.state.json").read_text())


def raw_events(case: str) -> list[dict[str, Any]]:
    """The history's events as the server wrote them, read without the package."""
    events: list[dict[str, Any]] = json.loads((HISTORIES / f"{case}.history.json").read_text())[
        "events"
    ]
    return events


def event_type(event: dict[str, Any]) -> str:
    return str(event["eventType"]).removeprefix("EVENT_TYPE_")


def client_requests(events: list[dict[str, Any]]) -> list[str]:
    """Cancel requests and accepted updates, the update's operator and reason decoded."""
    requests = []
    for event in events:
        if event_type(event) == "WORKFLOW_EXECUTION_CANCEL_REQUESTED":
            requests.append("cancel")
        if event_type(event) == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED":
            update = event["workflowExecutionUpdateAcceptedEventAttributes"]["acceptedRequest"]
            payload = update["input"]["args"]["payloads"][0]["data"]
            request = json.loads(base64.b64decode(payload))
            requests.append(
                f"{update['input']['name']} by {request['operator']}: {request['reason']}"
            )
    return requests


def steps_of(state: SagaState) -> list[tuple[str, str, str | None]]:
    return [
        (s.name, s.status.value, s.compensation.status.value if s.compensation else None)
        for s in state.steps
    ]


@pytest.mark.parametrize("case", CASES)
def test_stored_history_rebuilds_the_recorded_live_state(case: str) -> None:
    rebuilt = saga_state_from_history(load_history(HISTORIES / f"{case}.history.json"))
    assert rebuilt == live_state(case)


@pytest.mark.parametrize("case", CASES)
def test_stored_history_holds_the_scripted_activities_in_order(case: str) -> None:
    events = raw_events(case)
    prefix = f"scripted/golden-{case}/"
    scheduled = [
        e["activityTaskScheduledEventAttributes"]["activityId"]
        for e in events
        if event_type(e) == "ACTIVITY_TASK_SCHEDULED"
    ]
    closings = Counter(
        event_type(e).removeprefix("ACTIVITY_TASK_")
        for e in events
        if event_type(e).startswith("ACTIVITY_TASK_")
        and event_type(e) not in ("ACTIVITY_TASK_SCHEDULED", "ACTIVITY_TASK_STARTED")
    )
    assert scheduled == [prefix + a for a in TRUTH[case].activities]
    assert dict(closings) == TRUTH[case].outcomes
    assert event_type(events[-1]) == TRUTH[case].last_event
    assert client_requests(events) == TRUTH[case].requests


@pytest.mark.parametrize("case", CASES)
def test_recorded_live_state_holds_the_scripted_outcome(case: str) -> None:
    state = live_state(case)
    assert state.status.value == TRUTH[case].status
    assert steps_of(state) == TRUTH[case].steps


@pytest.mark.parametrize("case", CASES)
def test_rebuilt_state_holds_the_scripted_outcome(case: str) -> None:
    state = saga_state_from_history(load_history(HISTORIES / f"{case}.history.json"))
    assert state.status.value == TRUTH[case].status
    assert steps_of(state) == TRUTH[case].steps


def test_operator_retry_shows_in_actions_rounds_and_timeline() -> None:
    state = saga_state_from_history(load_history(HISTORIES / "retried.history.json"))
    assert [(a.action, a.step, a.operator) for a in state.operator_actions] == [
        ("retry", "charge", "ana")
    ]
    assert state.step("charge").compensation is not None
    assert state.step("charge").compensation.rounds == 2
    assert state.compensation_order == ["ship", "charge", "charge", "reserve"]
