"""Outcome probes: when a step's action may or may not have happened, ask.

An action whose last attempt timed out (or failed with an error its step marks as
ambiguous) may have taken effect anyway. Without a probe the saga assumes it may
have, and compensates it (rule 1: the compensation tolerates "nothing to undo"). With
one, the engine asks the probe activity, with the action's input and idempotency key:
if the effect is there, the step counts as completed with the probed result and the
saga goes on; if not, the saga compensates the steps before it and marks this one's
compensation NOT_NEEDED. A probe that fails itself leaves the outcome unknown, and the
saga compensates as it would without one. Each answer is a ``step.probed`` event.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

from temporal_sagas._contract import probe_activity_id
from temporal_sagas._models import CompensationStatus, ProbeResult, SagaEventKind
from temporal_sagas._unwrapped import is_cancelled, plain_isinstance
from temporal_sagas.workflows._options import StepOptions
from temporal_sagas.workflows._records import Step, failure_info
from temporal_sagas.workflows._runtime import SagaRuntime

#: What `step.probed` says in its detail.
TOOK_EFFECT = "took effect"
NO_EFFECT = "no effect"
UNKNOWN = "probe failed: outcome unknown"


def is_ambiguous(err: BaseException, ambiguous: tuple[str, ...]) -> bool:
    """Whether ``err`` leaves the action's outcome unknown.

    The last attempt timed out, or the action failed with one of the ApplicationError
    ``ambiguous`` types. A cancel is not ambiguous: the saga stops either way.
    """
    if is_cancelled(err) or not plain_isinstance(err, ActivityError):
        return False
    cause = err.cause
    if plain_isinstance(cause, TimeoutError):
        return True
    return plain_isinstance(cause, ApplicationError) and cause.type in ambiguous


async def ask(
    rt: SagaRuntime, step: Step, args: list[Any], options: StepOptions, result_type: Any
) -> ProbeResult | None:
    """Run ``step``'s probe; None when the probe itself failed (outcome still unknown).

    Emits ``step.probed``; when the action took no effect, its compensation is marked
    NOT_NEEDED so the saga does not undo what never happened.
    """
    try:
        answer: ProbeResult = await rt.start_activity(
            step.probe,
            args,
            header=rt.header_for(step, "probe"),
            activity_id=probe_activity_id(step.activity_id),
            options=options,
            local=False,
            result_type=ProbeResult,
        )
    except ActivityError as err:
        rt.emit(SagaEventKind.STEP_PROBED, step=step.name, detail=UNKNOWN,
                failure=failure_info(err))  # fmt: skip
        return None
    if not answer.took_effect:
        rt.emit(SagaEventKind.STEP_PROBED, step=step.name, detail=NO_EFFECT)
        if step.compensation is not None:
            step.compensation.status = CompensationStatus.NOT_NEEDED
        return answer
    rt.emit(SagaEventKind.STEP_PROBED, step=step.name, detail=TOOK_EFFECT)
    if result_type is not None and answer.result is not None:
        answer = answer.model_copy(
            update={"result": TypeAdapter(result_type).validate_python(answer.result)}
        )
    return answer
