"""PostgreSQL support, behind the ``[postgres]`` extra.

- `PostgresStore`: the `IdempotencyStore` for production, with the inbox pattern
  (`PostgresStore.inbox`): an activity's effect and its idempotency record commit in
  one transaction.
- The outbox: `create_outbox_table`, `enqueue_saga` (an app writes a row in its own
  transaction) and `OutboxRelay` / `relay_once` / `run_relay`, which start one saga
  per row, exactly once.
- `PostgresAuditSink`: audit events as rows of a table.

Importing this package without the extra raises `MissingExtraError`, naming it.
"""

from temporal_sagas._extras import require

require("temporal_sagas.postgres", "postgres", "psycopg", "psycopg_pool")

from temporal_sagas.postgres._audit_sink import DEFAULT_AUDIT_TABLE, PostgresAuditSink  # noqa: E402
from temporal_sagas.postgres._outbox import (  # noqa: E402
    DEFAULT_OUTBOX_TABLE,
    OutboxRelay,
    OutboxRow,
    RelayReport,
    create_outbox_table,
    enqueue_saga,
    relay_once,
    run_relay,
)
from temporal_sagas.postgres._store import InboxEntry, PostgresStore  # noqa: E402

__all__ = [
    "DEFAULT_AUDIT_TABLE",
    "DEFAULT_OUTBOX_TABLE",
    "InboxEntry",
    "OutboxRelay",
    "OutboxRow",
    "PostgresAuditSink",
    "PostgresStore",
    "RelayReport",
    "create_outbox_table",
    "enqueue_saga",
    "relay_once",
    "run_relay",
]
