"""Open two accounts, run transfers between them, and check that money is conserved.

Usage (from the repository root, with the worker running)::

    SAGAS_EXAMPLE_DSN='host=127.0.0.1 user=postgres dbname=bank' \
        python -m examples.money_transfer.starter [--transfers 20]

Every fifth transfer goes to a closed account: its deposit is refused and the
withdrawal is refunded. ``TEMPORAL_ADDRESS`` and ``TEMPORAL_NAMESPACE`` point it at
another server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid

from temporalio.client import Client, WorkflowFailureError

from examples.money_transfer.activities import TransferRequest, bank
from examples.money_transfer.workflows import TASK_QUEUE, Transfer
from temporal_sagas import SagaPlugin, start_saga

#: Every account starts with this many cents.
OPENING_BALANCE = 100_000


async def main(transfers: int) -> int:
    """Reset the accounts, run ``transfers`` transfers concurrently, compare the totals.

    Returns:
        0 when the total of all balances is unchanged, 1 otherwise.
    """
    address = os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
    namespace = os.environ.get("TEMPORAL_NAMESPACE", "default")
    client = await Client.connect(address, namespace=namespace, plugins=[SagaPlugin()])
    accounts = bank()
    await accounts.open_account("alice", OPENING_BALANCE)
    await accounts.open_account("bob", OPENING_BALANCE)
    await accounts.open_account("closed", 0)
    await accounts.close_account("closed")
    before = sum((await accounts.balances()).values())

    async def transfer(n: int) -> bool:
        target = "closed" if n % 5 == 4 else ("bob" if n % 2 else "alice")
        source = "alice" if target != "alice" else "bob"
        req = TransferRequest(
            transfer_id=f"transfer-{uuid.uuid4().hex[:8]}",
            source=source,
            target=target,
            amount=100 + n,
        )
        handle = await start_saga(
            client, Transfer.run, req, id=req.transfer_id, task_queue=TASK_QUEUE
        )
        try:
            await handle.result()
        except WorkflowFailureError:
            return False
        return True

    outcomes = await asyncio.gather(*(transfer(n) for n in range(transfers)))
    after = await accounts.balances()
    await accounts.close()
    print(f"{outcomes.count(True)} transfers completed, {outcomes.count(False)} compensated")
    print("balances: " + ", ".join(f"{a}={b}" for a, b in after.items()))
    conserved = sum(after.values()) == before
    print(f"total before={before} after={sum(after.values())} conserved={conserved}")
    return 0 if conserved else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=20, help="how many transfers to run")
    args = parser.parse_args()
    code = asyncio.run(main(args.transfers))
    # Leave without interpreter finalization: processes that created a Temporal client
    # can otherwise abort at exit (a known SDK issue).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
