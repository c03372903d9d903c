"""Failure injection: generated cases run real saga code against stubbed activities."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from examples.trip_booking.activities import ACTIVITIES, TripRequest
from examples.trip_booking.workflows import BookTrip
from temporal_sagas import SagaStatus
from temporal_sagas.testing import (
    FailureInjector,
    InjectionCase,
    SagaContractViolation,
    failure_cases,
)
from tests.sagas import ACTIVITIES as SCRIPTED_ACTIVITIES
from tests.sagas import Script, ScriptedSaga, StepScript
from tests.testing.injection_sagas import SwallowingSaga
from tests.testing.mutation_sagas import ACTIVITIES as MUTATION_ACTIVITIES
from tests.testing.mutation_sagas import Order

TRIP = TripRequest(trip_id="inject-trip", traveller="Ada", destination="Lisbon")
TRIP_INJECTOR = FailureInjector(BookTrip.run, TRIP, activities=ACTIVITIES)


#: What the contract says each case must end in, written down (not read from the engine):
#: a failed step is compensated with every step before it, newest first; a failed
#: compensation (its next step fails to make it due) parks after the newer ones ran.
EXPECTED = {
    InjectionCase("step", "car"): (SagaStatus.COMPENSATED, ("car",), ()),
    InjectionCase("step", "hotel"): (SagaStatus.COMPENSATED, ("hotel", "car"), ()),
    InjectionCase("step", "flight"): (SagaStatus.COMPENSATED, ("flight", "hotel", "car"), ()),
    InjectionCase("compensation", "car"): (SagaStatus.NEEDS_ATTENTION, ("hotel",), ("car",)),
    InjectionCase("compensation", "hotel"): (SagaStatus.NEEDS_ATTENTION, ("flight",), ("hotel",)),
    InjectionCase("compensation", "flight"): (SagaStatus.NEEDS_ATTENTION, (), ("flight",)),
}


@pytest.mark.parametrize("case", failure_cases(["car", "hotel", "flight"]), ids=str)
async def test_trip_booking_keeps_the_contract_under_each_injected_failure(
    saga_env: WorkflowEnvironment, case: InjectionCase
) -> None:
    result = await TRIP_INJECTOR.check(saga_env.client, case)

    assert (result.status, result.compensated, result.failed_compensations) == EXPECTED[case]


async def test_failing_hotel_compensates_hotel_then_car(saga_env: WorkflowEnvironment) -> None:
    result = await TRIP_INJECTOR.check(saga_env.client, InjectionCase("step", "hotel"))

    assert result.status is SagaStatus.COMPENSATED
    assert result.compensated == ("hotel", "car")


async def test_failing_hotel_compensation_parks_after_undoing_the_flight(
    saga_env: WorkflowEnvironment,
) -> None:
    result = await TRIP_INJECTOR.check(saga_env.client, InjectionCase("compensation", "hotel"))

    assert result.status is SagaStatus.NEEDS_ATTENTION
    assert (result.compensated, result.failed_compensations) == (("flight",), ("hotel",))


async def test_generated_cases_cover_every_step_and_compensation(
    saga_env: WorkflowEnvironment,
) -> None:
    cases = await TRIP_INJECTOR.cases(saga_env.client)

    assert [str(c) for c in cases] == [
        "step-fails:car",
        "step-fails:hotel",
        "step-fails:flight",
        "compensation-fails:car",
        "compensation-fails:hotel",
        "compensation-fails:flight",
    ]


async def test_check_all_leaves_no_path_untested(saga_env: WorkflowEnvironment) -> None:
    injector = FailureInjector(BookTrip.run, TRIP, activities=ACTIVITIES)

    report = await injector.check_all(saga_env.client)

    assert report.untested == ()
    assert len(report.paths) == 9


async def test_coverage_lists_compensation_failures_no_case_exercised(
    saga_env: WorkflowEnvironment,
) -> None:
    injector = FailureInjector(BookTrip.run, TRIP, activities=ACTIVITIES)
    await injector.check(saga_env.client, InjectionCase("step", "flight"))

    report = injector.coverage()

    assert report.untested == (
        "step-fails:car",
        "step-fails:hotel",
        "compensation-fails:car",
        "compensation-fails:hotel",
        "compensation-fails:flight",
    )
    assert "untested: compensation-fails:car" in report.render()


async def test_saga_that_swallows_a_failure_is_reported_as_a_violation(
    saga_env: WorkflowEnvironment,
) -> None:
    injector = FailureInjector(SwallowingSaga.run, Order(key="k"), activities=MUTATION_ACTIVITIES)

    with pytest.raises(
        SagaContractViolation, match=r"step-fails:b.*actions ran after the failing step"
    ):
        await injector.check(saga_env.client, InjectionCase("step", "b"))


async def test_step_after_the_pivot_parks_instead_of_compensating(
    saga_env: WorkflowEnvironment,
) -> None:
    script = Script(
        steps=(
            StepScript(name="reserve"),
            StepScript(name="charge", pivot=True, compensation="none"),
            StepScript(name="notify", compensation="none"),
        )
    )
    injector = FailureInjector(ScriptedSaga.run, script, activities=SCRIPTED_ACTIVITIES)

    result = await injector.check(saga_env.client, InjectionCase("step", "notify"))

    assert result.status is SagaStatus.NEEDS_ATTENTION
    assert result.compensated == ()


async def test_fakes_provide_the_results_the_saga_needs(saga_env: WorkflowEnvironment) -> None:
    seen: list[str] = []

    def fake_work(item: object) -> str:
        seen.append(type(item).__name__)
        return "faked"

    injector = FailureInjector(
        SwallowingSaga.run,
        Order(key="k"),
        activities=MUTATION_ACTIVITIES,
        fakes={"work": fake_work},
    )

    await injector.baseline(saga_env.client)

    assert seen == ["Item", "Item", "Item"]
