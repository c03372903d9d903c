"""A parent saga whose middle step is a child saga."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from temporalio import workflow

from temporal_sagas import Saga
from tests.sagas import ACTION_OPTIONS, Call, Script, ScriptedSaga, act, undo_ok


class Family(BaseModel):
    model_config = ConfigDict(frozen=True)

    child: Script
    fail_after_child: bool = False


@workflow.defn
class ParentSaga:
    @workflow.run
    async def run(self, family: Family) -> str:
        async with Saga("parent") as saga:
            await saga.step(
                "reserve",
                act,
                Call(step="reserve", mode="ok"),
                compensate=undo_ok,
                options=ACTION_OPTIONS,
            )
            await saga.child("inventory", ScriptedSaga.run, family.child)
            mode = "fail" if family.fail_after_child else "ok"
            await saga.step(
                "charge",
                act,
                Call(step="charge", mode=mode),
                compensate=undo_ok,
                options=ACTION_OPTIONS,
            )
        return "done"
