"""Operator commands: ``sagas retry|skip|resolve`` on a parked saga, ``sagas cancel``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from temporal_sagas._errors import SagaError
from temporal_sagas.cli._connection import (
    connect,
    connection_from,
    connection_options,
    run,
)

Action = Literal["retry", "skip", "resolve"]

if TYPE_CHECKING:
    from temporal_sagas._client import OperatorSigner
    from temporal_sagas.workers._connect import ConnectOptions


def _operator_command(action: Action, summary: str) -> click.Command:
    @click.command(name=action, help=summary)
    @click.argument("workflow_id")
    @click.option("--reason", required=True, help="Why; kept in the audit trail.")
    @click.option("--step", help="The parked step; needed when several are parked.")
    @click.option(
        "--key-id",
        envvar="SAGAS_OPERATOR_KEY_ID",
        help="Your operator key id: the operator the saga records. [env SAGAS_OPERATOR_KEY_ID]",
    )
    @click.option(
        "--key-file",
        envvar="SAGAS_OPERATOR_KEY_FILE",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Your Ed25519 private key (PEM, or base64 of the raw 32 bytes) to sign "
        "with; or put the key itself in SAGAS_OPERATOR_KEY. [env SAGAS_OPERATOR_KEY_FILE]",
    )
    @click.option(
        "--operator",
        envvar="USER",
        help="Who acts, for a worker without operator keys (recorded as unauthenticated). "
        "[env USER]",
    )
    @connection_options
    def command(
        workflow_id: str,
        reason: str,
        step: str | None,
        key_id: str | None,
        key_file: Path | None,
        operator: str | None,
        **flags: Any,
    ) -> None:
        signer = _signer(key_id, key_file)
        done = run(
            _act(connection_from(flags), workflow_id, action, step, reason, operator, signer)
        )
        click.echo(
            f"{done.action} accepted by saga {workflow_id}"
            + (f" for step {done.step}" if done.step else "")
            + f" at {done.at.isoformat()} (operator {done.operator_label})"
        )

    return command


def _signer(key_id: str | None, key_file: Path | None) -> OperatorSigner | None:
    """The signing key from the flags or the environment; None sends the action unsigned."""
    from temporal_sagas._client import OperatorSigner
    from temporal_sagas._operators import PRIVATE_KEY_ENV, OperatorKeyError

    try:
        text, where = os.environ.get(PRIVATE_KEY_ENV), PRIVATE_KEY_ENV
        if key_file is not None:
            try:
                text, where = key_file.read_text(encoding="utf-8"), str(key_file)
            except OSError as err:
                raise OperatorKeyError(f"operator key file {key_file}: {err.strerror}") from None
        if not text:
            if key_id:
                raise OperatorKeyError(
                    f"--key-id {key_id} given but no private key: pass --key-file or set "
                    f"{PRIVATE_KEY_ENV}"
                )
            return None
        if not key_id:
            raise OperatorKeyError(
                f"a private key is given ({where}) but not its key id: pass --key-id or set "
                "SAGAS_OPERATOR_KEY_ID"
            )
        return OperatorSigner.load(key_id, text, where=where)
    except OperatorKeyError as err:
        raise click.UsageError(str(err)) from None


retry = _operator_command("retry", "Retry the failed step or compensation of a parked saga.")
skip = _operator_command("skip", "Skip a failed compensation of a parked saga (needs --reason).")
resolve = _operator_command("resolve", "Declare a parked saga settled by hand (needs --reason).")


@click.command()
@click.argument("workflow_id")
@click.option("--reason", required=True, help="Why; recorded with the cancel request.")
@connection_options
def cancel(workflow_id: str, reason: str, **flags: Any) -> None:
    """Cancel a saga: it compensates what it did, then closes CANCELLED."""
    run(_cancel(connection_from(flags), workflow_id, reason))
    click.echo(f"cancel requested for saga {workflow_id}: {reason}")


async def _act(
    conn: ConnectOptions,
    workflow_id: str,
    action: Action,
    step: str | None,
    reason: str | None,
    operator: str | None,
    signer: OperatorSigner | None = None,
) -> Any:
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError

    from temporal_sagas._client import operator_action
    from temporal_sagas.cli._inspect import fetch_history

    client = await connect(conn)
    await fetch_history(client, workflow_id, None, conn)  # a clear "not found" first
    handle = client.get_workflow_handle(workflow_id)
    try:
        return await operator_action(
            handle, action, step=step, reason=reason, operator=operator, signer=signer
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = getattr(cause, "message", None) or str(cause or err)
        raise SagaError(f"saga {workflow_id} rejected {action}: {message}") from err
    except RPCError as err:
        raise SagaError(f"cannot send {action} to saga {workflow_id}: {err.message}") from err


async def _cancel(conn: ConnectOptions, workflow_id: str, reason: str) -> None:
    from temporalio.service import RPCError

    from temporal_sagas.cli._inspect import fetch_history

    client = await connect(conn)
    await fetch_history(client, workflow_id, None, conn, decrypt=False)  # "not found" first
    try:
        await client.get_workflow_handle(workflow_id).cancel(reason=reason)
    except RPCError as err:
        raise SagaError(f"cannot cancel saga {workflow_id}: {err.message}") from err
