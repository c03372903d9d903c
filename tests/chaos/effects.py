"""A one-step saga whose effect lands outside the idempotency store's transaction.

The step is ``@idempotent`` over a `PostgresStore`; its effect is a row written on a
connection of its own (committed before the store records the outcome), as an HTTP call
to a system that does not deduplicate would be. A worker killed between the two makes
the retry write the row again: the window the chaos suite measures.
"""

from __future__ import annotations

import os
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import psycopg
    from pydantic import BaseModel

    from temporal_sagas import Saga, StepOptions, current_idempotency_key
    from temporal_sagas.activities import idempotent
    from temporal_sagas.postgres import PostgresStore

#: The environment variable holding the effects database's connection string.
EFFECTS_DSN_ENV = "CHAOS_EFFECTS_DSN"
#: The effects; ``pid`` is the worker process that wrote the row.
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS effects (id bigserial PRIMARY KEY, idempotency_key text, pid int)"
)
#: The idempotency store's table.
STORE_TABLE = "effect_keys"
OPTIONS = StepOptions(
    start_to_close_timeout=timedelta(seconds=5),
    heartbeat_timeout=timedelta(seconds=2),  # also the claim's lease
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=50),
)


class EffectRequest(BaseModel):
    """One effect, under the saga key ``key``."""

    key: str


def _store() -> PostgresStore:
    return PostgresStore(os.environ[EFFECTS_DSN_ENV], table=STORE_TABLE, max_size=4)


@activity.defn
@idempotent(_store)
async def external_write(req: EffectRequest) -> str:
    """Write one row on a connection of its own, outside the store's transaction."""
    key = current_idempotency_key()
    async with await psycopg.AsyncConnection.connect(
        os.environ[EFFECTS_DSN_ENV], autocommit=True
    ) as conn:
        await conn.execute(
            "INSERT INTO effects (idempotency_key, pid) VALUES (%s, %s)", (key, os.getpid())
        )
    return key


@workflow.defn
class Effect:
    """One step: the external write."""

    @workflow.run
    async def run(self, req: EffectRequest) -> str:
        """Run the step and return its idempotency key."""
        saga = Saga("effect", key=req.key, action_options=OPTIONS)
        async with saga:
            written: str = await saga.step("write", external_write, req)
        return written
