"""The committed golden histories (tests/histories/) replay against today's sagas."""

from __future__ import annotations

from pathlib import Path

from examples.trip_booking.workflows import BookTrip
from temporal_sagas.testing import assert_replays, load_histories
from tests.sagas import ScriptedSaga

HISTORIES = Path(__file__).parents[1] / "histories"
SCRIPTED_STATES = {
    "completed",
    "compensated",
    "cancelled",
    "failed",
    "running",
    "compensating",
    "parked",
}


async def test_trip_booking_histories_replay() -> None:
    report = await assert_replays(HISTORIES / "trip_booking", sagas=[BookTrip])

    assert report.replayed == 2


async def test_scripted_saga_histories_replay() -> None:
    report = await assert_replays(HISTORIES / "scripted", sagas=[ScriptedSaga])

    assert report.replayed == len(SCRIPTED_STATES)


def test_scripted_goldens_cover_every_terminal_and_mid_flight_state() -> None:
    ids = {h.history.workflow_id for h in load_histories([HISTORIES / "scripted"])}

    assert ids == {f"golden-scripted-{state}" for state in SCRIPTED_STATES}


def test_mid_flight_goldens_are_open_runs() -> None:
    for loaded in load_histories([HISTORIES / "scripted"]):
        last = loaded.history.events[-1]
        closed = (
            last.HasField("workflow_execution_completed_event_attributes")
            or last.HasField("workflow_execution_failed_event_attributes")
            or last.HasField("workflow_execution_canceled_event_attributes")
        )
        mid_flight = loaded.history.workflow_id.rsplit("-", 1)[-1] in {
            "running",
            "compensating",
            "parked",
        }
        assert closed is not mid_flight, loaded.source
