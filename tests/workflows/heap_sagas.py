"""A saga that reports which parts of its own bookkeeping the garbage collector tracks,
and which objects it made that it need not have."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from temporal_sagas import Saga
from temporal_sagas.workflows._options import ACTION_DEFAULTS, COMPENSATION_DEFAULTS
from tests.sagas import ACTION_OPTIONS, Call, act, undo_ok


@workflow.defn
class HeapProbeSaga:
    """Runs two steps (the second fails) and inspects the ledger the engine kept."""

    @workflow.run
    async def run(self, key: str) -> list[str]:
        saga = Saga("heap", key=key, audit_log=False, search_attributes=False)
        try:
            async with saga:
                for name, mode in (("a", "ok"), ("b", "fail_fatal")):
                    call = Call(step=name, mode=mode)
                    await saga.step(name, act, call, compensate=undo_ok, options=ACTION_OPTIONS)
        except ApplicationError:
            pass
        ledger = saga._runtime().ledger
        with workflow.unsafe.sandbox_unrestricted():
            import gc

            gc.collect()
            # A row with a failure stays tracked through its FailureInfo (one per failure).
            tracked = [
                f"timeline row {row[0]}"
                for row in ledger.timeline
                if gc.is_tracked(row) and row[6] is None
            ]
        kept = [
            saga,
            saga._runtime(),
            saga._operator(),
            ledger,
            *ledger.steps,
            *(s.compensation for s in ledger.steps if s.compensation),
        ]
        # Objects the saga need not make: copies of the framework's default options,
        # a second description of the error that failed its last step.
        copies = [
            "action options copied" if saga._action_options is not ACTION_DEFAULTS else "",
            "compensation options copied"
            if saga._compensation_options is not COMPENSATION_DEFAULTS
            else "",
            "failure described twice" if ledger.failure is not ledger.steps[-1].failure else "",
        ]
        return (
            tracked
            + [f"{type(o).__name__} has a __dict__" for o in kept if hasattr(o, "__dict__")]
            + [copy for copy in copies if copy]
        )
