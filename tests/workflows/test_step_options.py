"""`StepOptions.merged_over`: set fields win, unset ones come from the base."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

from temporal_sagas import StepOptions

_EVERY_FIELD_SET = StepOptions(
    start_to_close_timeout=timedelta(seconds=1),
    schedule_to_close_timeout=timedelta(seconds=2),
    heartbeat_timeout=timedelta(seconds=3),
    retry_policy=RetryPolicy(maximum_attempts=4),
    task_queue="elsewhere",
    cancellation_type=ActivityCancellationType.ABANDON,
)


def test_merged_over_takes_every_unset_field_from_the_base() -> None:
    assert StepOptions().merged_over(_EVERY_FIELD_SET) == _EVERY_FIELD_SET


def test_merged_over_keeps_every_set_field() -> None:
    assert _EVERY_FIELD_SET.merged_over(StepOptions()) == _EVERY_FIELD_SET


def test_merged_over_mixes_field_by_field() -> None:
    mine = StepOptions(task_queue="mine", heartbeat_timeout=timedelta(seconds=9))
    merged = mine.merged_over(_EVERY_FIELD_SET)
    expected = dataclasses.replace(
        _EVERY_FIELD_SET, task_queue="mine", heartbeat_timeout=timedelta(seconds=9)
    )
    assert merged == expected


def test_the_examples_above_set_every_field_there_is() -> None:
    # A new option must be added here, so that the tests above check it is merged.
    unset = [
        f.name for f in dataclasses.fields(StepOptions) if getattr(_EVERY_FIELD_SET, f.name) is None
    ]
    assert unset == []
