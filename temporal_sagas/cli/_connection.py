"""Connection flags shared by the commands that talk to a server.

Connecting goes through `temporal_sagas.workers.connect`, the package's one connect path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowHistory

    from temporal_sagas.workers._connect import ConnectOptions

F = TypeVar("F", bound=Callable[..., Any])


def connection_options(command: F) -> F:
    """Add ``--address``, ``--namespace``, TLS, API-key and timeout flags to a command."""
    options = [
        click.option(
            "--address",
            envvar="TEMPORAL_ADDRESS",
            default="localhost:7233",
            show_default=True,
            help="Temporal host:port. [env TEMPORAL_ADDRESS]",
        ),
        click.option(
            "--namespace",
            envvar="TEMPORAL_NAMESPACE",
            default="default",
            show_default=True,
            help="Temporal namespace. [env TEMPORAL_NAMESPACE]",
        ),
        click.option(
            "--tls-ca-path",
            "--tls-ca",
            "tls_ca",
            envvar="TEMPORAL_TLS_CA",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="CA certificate (PEM) of the server. [env TEMPORAL_TLS_CA]",
        ),
        click.option(
            "--tls-cert-path",
            "--tls-cert",
            "tls_cert",
            envvar="TEMPORAL_TLS_CERT",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Client certificate (PEM), for mTLS. [env TEMPORAL_TLS_CERT]",
        ),
        click.option(
            "--tls-key-path",
            "--tls-key",
            "tls_key",
            envvar="TEMPORAL_TLS_KEY",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Client private key (PEM), for mTLS. [env TEMPORAL_TLS_KEY]",
        ),
        click.option(
            "--api-key",
            envvar="TEMPORAL_API_KEY",
            help="API key (Temporal Cloud). [env TEMPORAL_API_KEY]",
        ),
        click.option(
            "--connect-timeout-seconds",
            "timeout",
            type=float,
            default=5.0,
            show_default=True,
            help="Give up reaching the server after this long.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def connection_from(flags: dict[str, Any]) -> ConnectOptions:
    """Pop the connection flags out of a command's keyword arguments."""
    from temporal_sagas.workers._connect import ConnectOptions

    return ConnectOptions(
        address=flags.pop("address"),
        namespace=flags.pop("namespace"),
        tls_ca_path=flags.pop("tls_ca"),
        tls_cert_path=flags.pop("tls_cert"),
        tls_key_path=flags.pop("tls_key"),
        api_key=flags.pop("api_key"),
        timeout_seconds=flags.pop("timeout"),
    )


async def connect(conn: ConnectOptions) -> Client:
    """Connect through the package's one connect path, checking the namespace exists.

    Raises:
        SagaError: The server cannot be reached, or the namespace does not exist.
    """
    from temporal_sagas.workers._connect import connect as connect_client

    return await connect_client(conn, check_namespace=True)


async def decrypted(history: WorkflowHistory) -> WorkflowHistory:
    """Decode an encrypted history with the keys in ``SAGAS_ENCRYPTION_KEYS``.

    Raises:
        EncryptionKeyError: The history is encrypted and the variable is unset, or
            lacks a key the history names.
    """
    from temporal_sagas.workers._codec import (
        ENV_KEYS,
        EncryptionKeyError,
        codec_from_env,
        decode_history,
        encryption_key_ids,
    )

    codec = codec_from_env()
    if codec is not None:
        return await decode_history(history, codec)
    needed = encryption_key_ids(history)
    if needed:
        # Read without its keys, an encrypted history shows placeholders where inputs
        # and results belong, and its operator actions cannot be read at all.
        raise EncryptionKeyError(
            f"the history of {history.workflow_id!r} is encrypted with key "
            f"{', '.join(map(repr, needed))}; set {ENV_KEYS} to id:base64key entries "
            "that include it"
        )
    return history


def run(coro: Any) -> Any:
    """Run a command's coroutine to completion."""
    return asyncio.run(coro)
