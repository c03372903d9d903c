"""Connection flags shared by the inspection and operator commands, and the connect itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from temporal_sagas._errors import SagaError, SagaNotFoundError

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowHistory

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Connection:
    """Where and how to reach Temporal."""

    address: str
    namespace: str
    tls_ca: Path | None
    tls_cert: Path | None
    tls_key: Path | None
    api_key: str | None
    timeout: float


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


def connection_from(flags: dict[str, Any]) -> Connection:
    """Pop the connection flags out of a command's keyword arguments."""
    return Connection(
        address=flags.pop("address"),
        namespace=flags.pop("namespace"),
        tls_ca=flags.pop("tls_ca"),
        tls_cert=flags.pop("tls_cert"),
        tls_key=flags.pop("tls_key"),
        api_key=flags.pop("api_key"),
        timeout=flags.pop("timeout"),
    )


async def connect(conn: Connection) -> Client:
    """Connect with `SagaPlugin`, failing within ``conn.timeout`` seconds.

    Raises:
        SagaError: The server cannot be reached, or the namespace does not exist.
    """
    from temporalio.client import Client
    from temporalio.service import TLSConfig

    from temporal_sagas.workers._codec import codec_from_env
    from temporal_sagas.workers._plugin import SagaPlugin
    from temporal_sagas.workers._run import connect_when_serving

    tls: bool | TLSConfig = False
    if conn.tls_ca or conn.tls_cert or conn.tls_key:
        tls = TLSConfig(
            server_root_ca_cert=conn.tls_ca.read_bytes() if conn.tls_ca else None,
            client_cert=conn.tls_cert.read_bytes() if conn.tls_cert else None,
            client_private_key=conn.tls_key.read_bytes() if conn.tls_key else None,
        )
    elif conn.api_key:
        tls = True
    try:
        client = await asyncio.wait_for(
            connect_when_serving(
                lambda: Client.connect(
                    conn.address,
                    namespace=conn.namespace,
                    tls=tls,
                    api_key=conn.api_key,
                    plugins=[SagaPlugin(codec=codec_from_env())],
                )
            ),
            timeout=conn.timeout,
        )
    except (TimeoutError, RuntimeError, OSError) as err:
        raise SagaError(
            f"cannot reach Temporal at {conn.address} within {conn.timeout:g}s "
            f"({err or 'timeout'}); check --address / TEMPORAL_ADDRESS and that the server is up"
        ) from err
    await _check_namespace(client, conn)
    return client


async def _check_namespace(client: Client, conn: Connection) -> None:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.service import RPCError, RPCStatusCode

    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=conn.namespace),
            timeout=_as_timedelta(conn.timeout),
        )
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise SagaNotFoundError(
                f"namespace {conn.namespace!r} does not exist on {conn.address}; "
                "check --namespace / TEMPORAL_NAMESPACE"
            ) from err
        raise SagaError(
            f"Temporal at {conn.address} refused namespace {conn.namespace!r}: {err.message}"
        ) from err


def _as_timedelta(seconds: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=seconds)


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
