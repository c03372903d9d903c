"""`failure_info`: an error and its causes, flattened once per error."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ActivityError, ApplicationError

from temporal_sagas._models import FailureInfo
from temporal_sagas.workflows._records import failure_info


def _activity_error(cause: BaseException) -> ActivityError:
    error = ActivityError(
        "activity failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="charge",
        activity_id="1",
        retry_state=None,
    )
    error.__cause__ = cause
    return error


def test_failure_info_names_the_error_and_its_causes() -> None:
    error = _activity_error(ApplicationError("card declined", type="Declined"))

    assert failure_info(error) == FailureInfo(
        type="ActivityError",
        message="activity failed",
        causes=("Declined: card declined",),
    )


def test_the_same_error_is_described_once() -> None:
    error = _activity_error(ApplicationError("card declined", type="Declined"))

    assert failure_info(error) is failure_info(error)


def test_an_error_given_a_new_cause_is_described_again() -> None:
    error = _activity_error(ApplicationError("card declined", type="Declined"))
    first = failure_info(error)
    error.__cause__ = ValueError("bad amount")

    assert failure_info(error).causes == ("ValueError: bad amount",)
    assert first.causes == ("Declined: card declined",)


def test_a_validation_error_keeps_where_and_why_but_not_the_refused_input() -> None:
    from pydantic import BaseModel, ValidationError

    class Card(BaseModel):
        number: int

    with pytest.raises(ValidationError) as raised:
        Card(number="4111 1111 1111 1111")  # type: ignore[arg-type]

    info = failure_info(raised.value)

    assert "number\n  Input should be a valid integer" in info.message
    assert "4111" not in info.message


def test_a_card_number_quoted_in_a_failure_is_masked_before_it_reaches_state_or_audit() -> None:
    error = ApplicationError("card 4111 1111 1111 1111 declined")

    info = failure_info(error)

    assert info.message == "card [REDACTED CARD] declined"
