"""The custom search attributes a saga maintains, so sagas are one visibility query away."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

SAGA_NAME = SearchAttributeKey.for_keyword("SagaName")
"""Keyword search attribute holding the saga's name."""

SAGA_STATUS = SearchAttributeKey.for_keyword("SagaStatus")
"""Keyword search attribute holding the saga's `SagaStatus` value."""

SAGA_SEARCH_ATTRIBUTES = (SAGA_NAME, SAGA_STATUS)
"""Every key a namespace must know before sagas upsert them."""
