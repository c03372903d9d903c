"""Per-step activity options and the defaults a saga applies."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

#: Actions before the pivot: a few attempts, then the saga compensates.
DEFAULT_ACTION_RETRY = RetryPolicy(maximum_attempts=3)
#: Compensations: patient, then the saga parks for an operator.
DEFAULT_COMPENSATION_RETRY = RetryPolicy(
    maximum_attempts=10, maximum_interval=timedelta(seconds=60)
)


@dataclass(frozen=True, slots=True)
class StepOptions:
    """Temporal activity options for one step's action or compensation.

    Any field left as None falls back to the saga's defaults, then to the
    framework's: 30 s start-to-close, 3 attempts for actions, 10 for compensations.
    Steps after the pivot always retry without limit (they must eventually succeed).

    Attributes:
        start_to_close_timeout: Limit on one attempt.
        schedule_to_close_timeout: Limit on all attempts together.
        heartbeat_timeout: Limit between heartbeats of a long activity.
        retry_policy: Temporal retry policy for the activity.
        task_queue: Run the activity on another task queue.
        cancellation_type: What a cancel does to a running activity.
    """

    start_to_close_timeout: timedelta | None = None
    schedule_to_close_timeout: timedelta | None = None
    heartbeat_timeout: timedelta | None = None
    retry_policy: RetryPolicy | None = None
    task_queue: str | None = None
    cancellation_type: ActivityCancellationType | None = None

    def merged_over(self, base: StepOptions) -> StepOptions:
        """Return these options with unset fields taken from ``base``."""
        # Field by field and inline, rather than through `dataclasses.replace` or a
        # helper per field: every saga merges its options when it starts.
        s, b = self, base
        return StepOptions(
            start_to_close_timeout=b.start_to_close_timeout
            if s.start_to_close_timeout is None
            else s.start_to_close_timeout,
            schedule_to_close_timeout=b.schedule_to_close_timeout
            if s.schedule_to_close_timeout is None
            else s.schedule_to_close_timeout,
            heartbeat_timeout=b.heartbeat_timeout
            if s.heartbeat_timeout is None
            else s.heartbeat_timeout,
            retry_policy=b.retry_policy if s.retry_policy is None else s.retry_policy,
            task_queue=b.task_queue if s.task_queue is None else s.task_queue,
            cancellation_type=b.cancellation_type
            if s.cancellation_type is None
            else s.cancellation_type,
        )

    def activity_kwargs(self, *, local: bool) -> dict[str, Any]:
        """Keyword arguments for ``workflow.start_activity`` (or its local twin)."""
        kwargs: dict[str, Any] = {
            "start_to_close_timeout": self.start_to_close_timeout,
            "schedule_to_close_timeout": self.schedule_to_close_timeout,
            "retry_policy": self.retry_policy,
        }
        if self.cancellation_type is not None:
            kwargs["cancellation_type"] = self.cancellation_type
        if not local:
            kwargs["heartbeat_timeout"] = self.heartbeat_timeout
            kwargs["task_queue"] = self.task_queue
        return kwargs


ACTION_DEFAULTS = StepOptions(
    start_to_close_timeout=timedelta(seconds=30), retry_policy=DEFAULT_ACTION_RETRY
)
COMPENSATION_DEFAULTS = StepOptions(
    start_to_close_timeout=timedelta(seconds=30), retry_policy=DEFAULT_COMPENSATION_RETRY
)


def forward_only(options: StepOptions) -> StepOptions:
    """Options for a step after the pivot: same policy, but unlimited attempts."""
    policy = options.retry_policy or RetryPolicy()
    return dataclasses.replace(
        options, retry_policy=dataclasses.replace(policy, maximum_attempts=0)
    )
