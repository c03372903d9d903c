"""structlog processors the worker's log pipeline composes: replay guard and redaction.

`drop_replayed` keeps workflow code from logging again what it logged before a
replay; `Redactor` keeps secrets out of every log line and audit sink. Put them
first in the processor chain (before any sink and the renderer); see
`audit_processors`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import structlog
from pydantic import BaseModel, SecretBytes, SecretStr
from temporalio import workflow

from temporal_sagas._secrets import mask_card_numbers

#: Key names whose values never reach a log in clear (compared case-insensitively,
#: ``-`` and ``_`` alike).
DEFAULT_REDACTED_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "access_token",
        "refresh_token",
        "authorization",
        "card_number",
        "cvv",
        "private_key",
    }
)
#: What a redacted value is replaced with.
REDACTED = "[REDACTED]"
#: More key names to redact, comma separated, for the worker's logs and the CLI's output.
ENV_REDACT_KEYS = "SAGAS_REDACT_KEYS"
_MAX_DEPTH = 12


def drop_replayed(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop events logged by workflow code while it replays history.

    The engine already guards its own audit events; this guard covers anything
    else logged with structlog from workflow code (``workflow.logger`` has its own).
    """
    if workflow.in_workflow() and workflow.unsafe.is_replaying_history_events():
        raise structlog.DropEvent
    return event_dict


class Redactor:
    """A structlog processor that masks secrets anywhere in an event.

    Values of pydantic ``SecretStr``/``SecretBytes`` become ``**********``, values under
    a configured key name become ``[REDACTED]``, at any depth: in dicts, lists and
    pydantic models (which are dumped to plain data first).

    Args:
        keys: Key names to redact; `DEFAULT_REDACTED_KEYS` when not given.
        extra_keys: Key names to redact in addition to ``keys``.
    """

    def __init__(self, keys: Iterable[str] | None = None, extra_keys: Iterable[str] = ()) -> None:
        base = DEFAULT_REDACTED_KEYS if keys is None else keys
        self.keys = frozenset(_norm(k) for k in (*base, *extra_keys))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        """The default keys plus those listed in ``SAGAS_REDACT_KEYS``."""
        listed = (os.environ if environ is None else environ).get(ENV_REDACT_KEYS, "")
        return cls(extra_keys=[k.strip() for k in listed.split(",") if k.strip()])

    def redact_text(self, text: str) -> str:
        """``text`` with every card number in it masked (free text: messages, errors)."""
        return mask_card_numbers(text)

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Return the event with every secret masked."""
        for key in list(event_dict):
            event_dict[key] = self.redact_value(key, event_dict[key])
        return event_dict

    def redact_value(self, key: str | None, value: Any, depth: int = 0) -> Any:
        """Mask ``value`` if it is secret or sits under a secret key; recurse into it."""
        if key is not None and _norm(key) in self.keys and value is not None:
            return REDACTED
        if isinstance(value, SecretStr | SecretBytes):
            return "**********"
        if isinstance(value, str):
            return self.redact_text(value)
        if depth >= _MAX_DEPTH:
            return value
        if isinstance(value, BaseModel):
            # Python mode keeps Secret* objects, so they are caught one level down.
            value = value.model_dump(mode="python")
        if isinstance(value, Mapping):
            return {k: self.redact_value(str(k), v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact_value(None, v, depth + 1) for v in value]
        return value


def audit_processors(
    *sinks: Any, redact_keys: Iterable[str] = (), redactor: Redactor | None = None
) -> list[Any]:
    """The processors to put first in a worker's structlog chain, in order.

    Replay guard, then redaction, then the audit sinks (so sinks never see a
    secret). Give the result to ``structlog.configure(processors=[*these, ...])``
    ahead of the renderer, or to the worker logging helper.

    Args:
        sinks: Audit sinks (`JsonlAuditSink`, `PostgresAuditSink`).
        redact_keys: More key names to redact besides `DEFAULT_REDACTED_KEYS`.
        redactor: A ready redactor instead of one made from ``redact_keys``.
    """
    from temporal_sagas.audit._sinks import AuditSinkProcessor

    chosen = redactor or Redactor(extra_keys=[*redact_keys, *Redactor.from_env().keys])
    chain: list[Any] = [drop_replayed, chosen]
    if sinks:
        chain.append(AuditSinkProcessor(*sinks))
    return chain


def _norm(key: str) -> str:
    return key.lower().replace("-", "_")
