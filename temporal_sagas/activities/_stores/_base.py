"""What an idempotency store promises: claim a key, record its outcome, release it.

A key's record is either *pending* (an attempt claimed it and holds a lease) or
*completed* (the outcome is stored). A completed record of a saga step is *held*:
it carries its saga's workflow id and no expiry, because a compensation may need it
however long the saga stays open (parked, say). `release_saga` starts its TTL once
the saga has closed. A record written outside a saga expires its TTL after
completion. Every store implements the same state machine, and one contract test
suite runs against all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Protocol, runtime_checkable

from temporal_sagas._errors import SagaError

#: Default table name of the key records, in SQLite and PostgreSQL alike.
DEFAULT_TABLE = "sagas_idempotency"

PENDING = "pending"
COMPLETED = "completed"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class IdempotencyStoreError(SagaError):
    """An idempotency store is misconfigured or cannot be used."""


@dataclass(frozen=True, slots=True)
class Claim:
    """The answer of `IdempotencyStore.claim`.

    Attributes:
        status: ``claimed``: the caller owns the key and must run the effect, then
            `complete` or `release` it. ``completed``: an earlier attempt finished;
            ``result`` holds its outcome. ``busy``: another attempt holds a live lease.
        result: The stored outcome (JSON text) when ``completed``.
        lease_until: When ``busy``, the epoch second at which the holder's lease ends.
    """

    status: Literal["claimed", "completed", "busy"]
    result: str | None = None
    lease_until: float | None = None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A stored key record, as `IdempotencyStore.get` returns it (for inspection).

    ``expires_at`` is None while the record is held for its saga (``workflow_id``).
    """

    key: str
    state: Literal["pending", "completed"]
    owner: str | None
    result: str | None
    lease_until: float | None
    expires_at: float | None
    workflow_id: str | None = None


@runtime_checkable
class IdempotencyStore(Protocol):
    """Where `idempotent` activities record key -> outcome.

    Implementations must make `claim` atomic: of any number of concurrent claims of
    one key, at most one returns ``claimed`` while its lease is live. Times are epoch
    seconds from the store's clock.
    """

    async def open(self) -> None:
        """Connect and create the table if needed (called lazily by every method)."""
        ...

    async def close(self) -> None:
        """Release connections; the store may be opened again."""
        ...

    async def claim(self, key: str, owner: str, *, lease: timedelta) -> Claim:
        """Claim ``key`` for ``owner`` unless it is completed or leased by someone else.

        A pending record whose lease ran out (a crashed attempt) and a completed record
        whose TTL ran out are taken over.
        """
        ...

    async def complete(
        self,
        key: str,
        owner: str,
        result: str,
        *,
        ttl: timedelta,
        workflow_id: str | None = None,
    ) -> bool:
        """Record ``result`` for ``key``; False when ``owner`` no longer holds the claim.

        With ``workflow_id`` (the key belongs to a saga step) the record is held: it
        never expires until `release_saga` releases that saga's records, and ``ttl``
        counts from then. Without, it expires ``ttl`` after now.
        """
        ...

    async def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s pending claim (the attempt failed), so a retry can run."""
        ...

    async def get(self, key: str) -> KeyRecord | None:
        """Return the record of ``key``, expired or not, or None."""
        ...

    async def purge_expired(self) -> int:
        """Delete completed records past their TTL; return how many were deleted.

        Held records (of a saga not yet released) are never deleted.
        """
        ...

    async def held_sagas(self) -> list[str]:
        """The workflow ids whose completed records are held (not yet released)."""
        ...

    async def release_saga(self, workflow_id: str) -> int:
        """Start the TTL of ``workflow_id``'s held records; return how many were released.

        Call it only once that saga has closed (`release_closed_sagas` checks with
        Temporal): from then on each record expires its own TTL later.
        """
        ...


def check_identifier(kind: str, name: str) -> str:
    """Return ``name`` if it is a plain SQL identifier, else raise a helpful error."""
    if not _IDENTIFIER.match(name):
        raise IdempotencyStoreError(
            f"{kind} name {name!r} is not a plain SQL identifier: use letters, digits and "
            "underscores, starting with a letter or underscore (at most 63 characters)"
        )
    return name
