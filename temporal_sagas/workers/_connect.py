"""The one way this package connects to Temporal.

``sagas worker``, `run_worker_in_background`, the outbox relay and every CLI command
that talks to a server connect here, so address, namespace, TLS, API key, payload
codec and plugins are applied the same way everywhere. The payload codec comes from
``SAGAS_ENCRYPTION_KEYS`` unless the caller passes one: a worker started without the
keys its sagas' clients use would write plaintext next to ciphertext.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, Plugin
from temporalio.converter import PayloadCodec
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from temporal_sagas._errors import SagaError, SagaNotFoundError
from temporal_sagas._operators import OperatorKeys
from temporal_sagas.workers._codec import codec_from_env
from temporal_sagas.workers._plugin import SagaPlugin

#: Seconds between connection attempts while the server answers but is not serving yet.
_CONNECT_RETRY_SECONDS = 0.2


class ConnectError(SagaError):
    """The Temporal server could not be reached, or refused the connection."""


@dataclass(frozen=True)
class ConnectOptions:
    """Where and how to reach Temporal.

    Attributes:
        address: The frontend, ``host:port``.
        namespace: The namespace.
        tls_ca_path: PEM file of the CA that signed the server's certificate.
        tls_cert_path: PEM client certificate (mTLS); needs ``tls_key_path``.
        tls_key_path: PEM private key of the client certificate.
        api_key: API key (Temporal Cloud); turns TLS on.
        timeout_seconds: How long to keep trying before giving up.
    """

    address: str = "localhost:7233"
    namespace: str = "default"
    tls_ca_path: Path | None = None
    tls_cert_path: Path | None = None
    tls_key_path: Path | None = None
    api_key: str | None = None
    timeout_seconds: float = 5.0

    def tls(self) -> TLSConfig | bool:
        """The TLS setting for ``Client.connect``: a config, on (API key) or off.

        Raises:
            ConnectError: Only one of the client certificate and its key is given.
        """
        if (self.tls_cert_path is None) != (self.tls_key_path is None):
            raise ConnectError(
                "the client certificate and its key go together: give both for mutual TLS "
                "(--tls-cert-path/--tls-key-path), or neither"
            )
        if self.tls_ca_path is None and self.tls_cert_path is None:
            return self.api_key is not None
        return TLSConfig(
            server_root_ca_cert=_read(self.tls_ca_path),
            client_cert=_read(self.tls_cert_path),
            client_private_key=_read(self.tls_key_path),
        )


def _read(path: Path | None) -> bytes | None:
    return None if path is None else path.read_bytes()


class _FromEnvironment:
    """Marker default: take the payload codec from ``SAGAS_ENCRYPTION_KEYS``."""


FROM_ENVIRONMENT: Any = _FromEnvironment()


async def connect(
    options: ConnectOptions,
    *,
    runtime: Runtime | None = None,
    passthrough_modules: Sequence[str] = (),
    codec: PayloadCodec | None = FROM_ENVIRONMENT,
    plugins: Sequence[Plugin] = (),
    check_namespace: bool = False,
    operator_keys: OperatorKeys | None = None,
) -> Client:
    """Connect a client with `SagaPlugin`, giving up after ``options.timeout_seconds``.

    A server that answers but reports itself unavailable (a dev server whose port is
    open before its frontend serves, a cluster restarting) is tried again until the
    timeout; any other refusal fails at once.

    Args:
        options: Where and how to connect.
        runtime: A Temporal runtime (metrics, log forwarding); the SDK's default if None.
        passthrough_modules: More modules the workflow sandbox passes through.
        codec: The payload codec; by default the one ``SAGAS_ENCRYPTION_KEYS`` describes
            (none when it is unset). Pass None to connect without one.
        plugins: More client plugins, after `SagaPlugin`.
        operator_keys: The operator keys the workers built from this client trust
            (None: development mode, unauthenticated operator actions).
        check_namespace: Ask the server whether the namespace exists, so that a wrong
            one fails here with a clear message rather than at the first call.

    Raises:
        ConnectError: The server did not serve in time, or refused the connection.
        SagaNotFoundError: ``check_namespace`` and the namespace does not exist.
        EncryptionKeyError: ``SAGAS_ENCRYPTION_KEYS`` is malformed.
    """
    chosen = codec_from_env() if isinstance(codec, _FromEnvironment) else codec
    tls = options.tls()

    def attempt() -> Awaitable[Client]:
        return Client.connect(
            options.address,
            namespace=options.namespace,
            api_key=options.api_key,
            tls=tls,
            runtime=runtime,
            plugins=[
                SagaPlugin(
                    codec=chosen,
                    passthrough_modules=passthrough_modules,
                    operator_keys=operator_keys,
                ),
                *plugins,
            ],
        )

    try:
        client = await asyncio.wait_for(connect_when_serving(attempt), options.timeout_seconds)
    except TimeoutError:
        raise ConnectError(
            f"cannot reach the Temporal server at {options.address} (namespace "
            f"{options.namespace!r}) within {options.timeout_seconds:g} s: check "
            "--address / TEMPORAL_ADDRESS, that the server runs, and the TLS settings"
        ) from None
    except (RuntimeError, OSError) as err:
        raise ConnectError(
            f"cannot connect to the Temporal server at {options.address}: {err}; check "
            "--address / TEMPORAL_ADDRESS and the TLS and API key settings"
        ) from None
    if check_namespace:
        await _check_namespace(client, options)
    return client


async def connect_when_serving(attempt: Callable[[], Awaitable[Client]]) -> Client:
    """Run ``attempt`` until the server serves: again while it answers "Unavailable".

    Bound it with a timeout: a server that never becomes healthy is tried forever.
    """
    while True:
        try:
            return await attempt()
        except RuntimeError as err:
            # The SDK reports every connect failure as a RuntimeError; only its gRPC
            # status tells a server still starting from a wrong address or bad TLS.
            if "code: Unavailable" not in str(err):
                raise
        await asyncio.sleep(_CONNECT_RETRY_SECONDS)


async def _check_namespace(client: Client, options: ConnectOptions) -> None:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=options.namespace),
            timeout=timedelta(seconds=options.timeout_seconds),
        )
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise SagaNotFoundError(
                f"namespace {options.namespace!r} does not exist on {options.address}; "
                "check --namespace / TEMPORAL_NAMESPACE"
            ) from err
        raise ConnectError(
            f"Temporal at {options.address} refused namespace {options.namespace!r}: {err.message}"
        ) from err
