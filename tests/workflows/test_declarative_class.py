"""The class style: definition-time checks, mapped inputs, and types checked by mypy."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas import SagaDefinitionError, saga_state
from temporal_sagas.workflows import saga_steps, saga_workflow, step
from tests.history.audit_support import audit_logging
from tests.sagas import new_id
from tests.workflows.trip_styles import (
    ACTIVITIES,
    Booking,
    ConfirmedTrip,
    QuietTrip,
    Trip,
    cancel_car,
    journal,
    reserve_car,
    reserve_flight,
)


@activity.defn
async def cancel_with_wrong_input(other: Booking) -> None: ...


@activity.defn
async def cancel_with_wrong_result(trip: Trip, booking: int | None) -> None: ...


@activity.defn
async def cancel_too_many(trip: Trip, booking: Booking | None, extra: str) -> None: ...


@pytest.mark.parametrize(
    ("compensate", "message"),
    [
        (cancel_with_wrong_input, "takes Booking but action reserve_car takes Trip"),
        (cancel_with_wrong_result, "returns Booking; annotate it `Booking | None`"),
        (cancel_too_many, "takes 3 positional parameters"),
    ],
    ids=["input-type", "result-type", "arity"],
)
def test_compensation_that_does_not_fit_its_action_fails_at_class_definition(
    compensate: object, message: str
) -> None:
    with pytest.raises(SagaDefinitionError, match=r"Broken\.car") as caught:

        @saga_workflow(name="broken")
        class Broken:
            car = step(reserve_car, compensate=compensate)  # type: ignore[call-overload]

    assert message in str(caught.value)


def test_compensation_after_the_pivot_fails_at_class_definition() -> None:
    with pytest.raises(SagaDefinitionError, match="comes after the pivot 'flight'"):

        @saga_workflow(name="late-undo")
        class LateUndo:
            flight = step(reserve_flight, pivot=True)
            car = step(reserve_car, compensate=cancel_car)


def test_two_pivots_fail_at_class_definition() -> None:
    with pytest.raises(SagaDefinitionError, match="a second pivot"):

        @saga_workflow(name="two-pivots")
        class TwoPivots:
            car = step(reserve_car, pivot=True)
            flight = step(reserve_flight, pivot=True)


def test_class_without_steps_is_rejected() -> None:
    with pytest.raises(SagaDefinitionError, match="declares no steps"):

        @saga_workflow(name="empty")
        class Empty:
            pass


def test_steps_keep_declaration_order() -> None:
    assert [s.name for s in saga_steps(ConfirmedTrip)] == ["car", "flight", "confirm"]


async def test_mapped_input_pivot_and_result_hook_run_on_the_engine(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str
) -> None:
    client, trip = (
        saga_dev_env.client,
        Trip(trip_id=new_id("cls"), traveller="Ada", destination="Oslo"),
    )
    async with Worker(
        client, task_queue=saga_task_queue, workflows=[ConfirmedTrip], activities=ACTIVITIES
    ):
        handle = await client.start_workflow(
            "ConfirmedTrip", trip, id=trip.trip_id, task_queue=saga_task_queue, result_type=str
        )
        result = await handle.result()
        state = await saga_state(handle)

    assert result == f"sent to Ada (flight-{trip.trip_id})"
    assert state.step_names == ["car", "flight", "confirm"]
    assert state.pivot_passed
    assert state.step("confirm").after_pivot
    assert journal(trip.trip_id)[-1] == ("confirmed", "mail")


async def test_a_class_saga_without_the_audit_log_logs_no_audit_event(
    saga_dev_env: WorkflowEnvironment, saga_task_queue: str, tmp_path: Path
) -> None:
    client = saga_dev_env.client
    trip = Trip(trip_id=new_id("quiet"), traveller="Ada", destination="Oslo")
    with audit_logging(tmp_path / "audit.jsonl") as captured:
        async with Worker(
            client, task_queue=saga_task_queue, workflows=[QuietTrip], activities=ACTIVITIES
        ):
            handle = await client.start_workflow(
                "QuietTrip", trip, id=trip.trip_id, task_queue=saga_task_queue
            )
            await handle.result()
            state = await saga_state(handle)

    assert captured.audit_lines() == []
    assert [e.kind.value for e in state.timeline][-2:] == ["step.completed", "saga.closed"]


MYPY_SOURCE = """
from pydantic import BaseModel
from temporalio import activity
from temporal_sagas.workflows import step

class Trip(BaseModel):
    trip_id: str

class Other(BaseModel):
    x: int

@activity.defn
async def reserve(trip: Trip) -> str:
    return trip.trip_id

@activity.defn
async def cancel(trip: Trip, confirmation: str | None) -> None: ...

@activity.defn
async def cancel_other(other: Other) -> None: ...

@activity.defn
async def cancel_bad_result(trip: Trip, confirmation: int | None) -> None: ...

good = step(reserve, compensate=cancel)
bad_input = step(reserve, compensate=cancel_other)
bad_result = step(reserve, compensate=cancel_bad_result)
"""


def test_mypy_flags_a_compensation_whose_types_do_not_fit_the_action(tmp_path: Path) -> None:
    source = tmp_path / "saga_types.py"
    source.write_text(textwrap.dedent(MYPY_SOURCE))
    lines = source.read_text().splitlines()
    mypy = Path(sys.executable).parent / "mypy"

    run = subprocess.run(
        [str(mypy), "--strict", "--no-incremental", "--follow-imports=silent", str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    flagged = {
        lines[int(line.split(":")[1]) - 1].split(" =")[0]
        for line in run.stdout.splitlines()
        if ": error:" in line
    }
    assert flagged == {"bad_input", "bad_result"}, run.stdout
