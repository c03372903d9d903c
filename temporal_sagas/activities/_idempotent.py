"""`@idempotent`: an at-least-once activity with a once-only effect, through a key store.

On entry the guard claims the activity's idempotency key in a store. A completed
record short-cuts the call: the stored result is returned and the effect is not
redone. A live claim by another attempt makes this one wait for that outcome
(bounded), then give up with a retryable error so Temporal tries again later. A
failed call releases its claim, so failures are never cached as successes. A claim
left by a crashed attempt expires after its lease and a retry takes it over.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import time
import typing
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import structlog
from pydantic import TypeAdapter
from temporalio import activity

from temporal_sagas._context import current_idempotency_key
from temporal_sagas._errors import SagaError
from temporal_sagas.activities._records import held_for
from temporal_sagas.activities._stores import IdempotencyStore, SQLiteStore
from temporal_sagas.activities._stores._sqlite import DEFAULT_SQLITE_PATH

P = ParamSpec("P")
T = TypeVar("T")

#: How long a completed record is kept unless ``ttl`` says otherwise: after its saga
#: closed (a saga step's record), else after it was written.
DEFAULT_TTL = timedelta(days=7)
#: Lease of a claim when neither ``lease`` nor the activity's timeouts give one.
DEFAULT_LEASE = timedelta(minutes=5)
#: How long an attempt waits for a competing attempt's outcome before giving up.
DEFAULT_WAIT = timedelta(seconds=10)

_log = structlog.get_logger("temporal_sagas.idempotency")
_default_store: IdempotencyStore | None = None


class IdempotencyKeyBusyError(SagaError):
    """Another attempt holds a live claim on this key and did not finish in time.

    Raised inside an activity it is retryable: Temporal runs the activity again
    after its retry interval, by which time the other attempt has finished (its
    result is then returned) or its lease has run out (this attempt takes over).
    """


class IdempotentDefinitionError(SagaError):
    """`idempotent` was applied to something it cannot guard."""


def default_store() -> IdempotencyStore:
    """Return the process-wide default store: a `SQLiteStore`.

    Its file is ``$SAGAS_IDEMPOTENCY_DB`` when set, else ``.sagas/idempotency.sqlite3``
    under the working directory.
    """
    global _default_store
    if _default_store is None:
        _default_store = SQLiteStore(os.environ.get("SAGAS_IDEMPOTENCY_DB", DEFAULT_SQLITE_PATH))
    return _default_store


StoreSource = IdempotencyStore | Callable[[], IdempotencyStore] | None


def idempotent(
    store: StoreSource = None,
    *,
    key: Callable[..., str] | None = None,
    ttl: timedelta = DEFAULT_TTL,
    lease: timedelta | None = None,
    wait: timedelta = DEFAULT_WAIT,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Coroutine[Any, Any, T]]]:
    """Guard an async activity so its effect happens once per idempotency key.

    Put it under ``@activity.defn``; the activity keeps its signature::

        @activity.defn
        @idempotent(store)
        async def charge(req: ChargeRequest) -> Receipt: ...

    Args:
        store: The store (or a no-argument factory, called on first use). Default:
            `default_store`, a SQLite file.
        key: Computes the key from the activity's arguments. Default: the saga
            step's key, `current_idempotency_key`.
        ttl: How long a completed record answers retries once its saga has closed
            (`release_closed_sagas`); while the saga is open, parked or not, the
            record never expires. A key outside a saga expires ``ttl`` after it was
            recorded. After that the key is new again.
        lease: How long a claim holds off other attempts before it is presumed
            crashed. Default: the activity's heartbeat timeout, else its
            start-to-close timeout, else five minutes. It must exceed the time the
            guarded function takes, or a retry may run the effect concurrently.
        wait: How long an attempt waits for a competing claim's outcome before it
            raises the retryable `IdempotencyKeyBusyError`.

    Returns:
        The decorator. The stored result is decoded to the function's annotated
        return type with pydantic.

    Raises:
        IdempotentDefinitionError: The function is not ``async def`` or its return
            annotation cannot be resolved.
    """

    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        if not inspect.iscoroutinefunction(fn):
            raise IdempotentDefinitionError(
                f"@idempotent needs an `async def` function; {fn!r} is not one"
            )
        guard = _Guard(store, _return_adapter(fn), ttl=ttl, lease=lease, wait=wait)

        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            the_key = key(*args, **kwargs) if key is not None else current_idempotency_key()
            result: T = await guard.run(the_key, lambda: fn(*args, **kwargs))
            return result

        return guarded

    return decorate


def _return_adapter(fn: Callable[..., Any]) -> TypeAdapter[Any]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception as err:
        raise IdempotentDefinitionError(
            f"cannot resolve the type hints of {fn.__qualname__}: {err}; import the "
            "return type at module level so stored results can be decoded"
        ) from err
    return TypeAdapter(hints.get("return", Any))


class _Guard:
    """Claim, run, record: the state machine behind one decorated function."""

    def __init__(
        self,
        store: StoreSource,
        adapter: TypeAdapter[Any],
        *,
        ttl: timedelta,
        lease: timedelta | None,
        wait: timedelta,
    ) -> None:
        self._source = store
        self._store: IdempotencyStore | None = None
        self._adapter = adapter
        self._ttl = ttl
        self._lease = lease
        self._wait = wait.total_seconds()

    def store(self) -> IdempotencyStore:
        if self._store is None:
            source = self._source
            if source is None:
                self._store = default_store()
            elif isinstance(source, IdempotencyStore):
                self._store = source
            else:
                self._store = source()
        return self._store

    async def run(self, key: str, call: Callable[[], Awaitable[Any]]) -> Any:
        store = self.store()
        owner = uuid.uuid4().hex
        stored = await self._claim(store, key, owner)
        if stored is not None:
            _log.debug("idempotency.replayed", key=key)
            return self._adapter.validate_json(stored)
        try:
            result = await call()
        except BaseException:
            await self._release(store, key, owner)
            raise
        if not await store.complete(
            key,
            owner,
            self._adapter.dump_json(result).decode(),
            ttl=self._ttl,
            workflow_id=held_for(),
        ):
            # Our lease ran out and another attempt took the key over: the effect may
            # have happened twice. Say so loudly; the lease is too short for this call.
            _log.warning(
                "idempotency.lease_lost",
                key=key,
                hint="the guarded call outlived its lease; raise `lease` above its duration",
            )
        return result

    async def _claim(self, store: IdempotencyStore, key: str, owner: str) -> str | None:
        """Claim the key; return the stored result when it is already completed."""
        deadline = time.monotonic() + self._wait
        delay = 0.01
        while True:
            claim = await store.claim(key, owner, lease=self._lease_for_attempt())
            if claim.status == "claimed":
                return None
            if claim.status == "completed":
                return claim.result or "null"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise IdempotencyKeyBusyError(
                    f"idempotency key {key!r} is claimed by another attempt whose lease runs "
                    f"until {claim.lease_until}; this attempt gives up and will be retried by "
                    "Temporal (raise `wait` to wait longer)"
                )
            if activity.in_activity():
                activity.heartbeat()
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)

    async def _release(self, store: IdempotencyStore, key: str, owner: str) -> None:
        try:
            await store.release(key, owner)
        except Exception as err:  # the original failure matters more; the lease expires
            _log.warning("idempotency.release_failed", key=key, error=repr(err))

    def _lease_for_attempt(self) -> timedelta:
        if self._lease is not None:
            return self._lease
        if activity.in_activity():
            info = activity.info()
            for timeout in (
                info.heartbeat_timeout,
                info.start_to_close_timeout,
                info.schedule_to_close_timeout,
            ):
                if timeout:
                    return timeout
        return DEFAULT_LEASE
