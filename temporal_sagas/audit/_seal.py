"""Keyed seals for audit lines: a file cannot be rewritten consistently without the key.

Each audit event carries a SHA-256 chain (``hash``, ``prev_hash``) that anyone can
recompute: it proves the order and content of a trail only to someone who trusts
where the file came from. A sink given an `AuditSealer` adds ``mac``: the HMAC-SHA256
of the event's hash under a key the writer holds, named by its key id. Verification
(`sagas audit --verify` with ``SAGAS_AUDIT_KEYS``) then tells a genuine line (from the
history, or from a workflow task that ran again after a crash) from a forged one.

Keys rotate like the payload codec's: ``SAGAS_AUDIT_KEYS`` lists ``id:base64key``
entries, comma separated; the first seals new lines, every listed key verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping

from temporal_sagas._errors import SagaError
from temporal_sagas._keys import parse_key_list
from temporal_sagas.audit._events import AuditEvent

#: Where the worker and the CLI read the sealing keys.
ENV_AUDIT_KEYS = "SAGAS_AUDIT_KEYS"


class AuditKeyError(SagaError):
    """An audit sealing key is malformed, or listed twice."""


class AuditSealer:
    """Seals audit events with HMAC-SHA256 and checks seals, by key id.

    Args:
        keys: Key id -> secret key (at least 16 bytes).
        current: The key id that seals new events.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise AuditKeyError(f"the current audit key id {current!r} is not among {sorted(keys)}")
        for key_id, key in keys.items():
            if len(key) < 16:
                raise AuditKeyError(
                    f"audit key {key_id!r} has {len(key)} bytes; use at least 16 random bytes"
                )
        self._keys = dict(keys)
        self._current = current

    @classmethod
    def from_spec(cls, spec: str) -> AuditSealer:
        """Build from ``id1:base64key1,id2:base64key2``; the first key seals.

        Raises:
            AuditKeyError: An entry is malformed, or a key id is listed twice.
        """
        keys = parse_key_list(spec, variable=ENV_AUDIT_KEYS, error=AuditKeyError)
        return cls(keys, current=next(iter(keys)))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AuditSealer | None:
        """The sealer ``SAGAS_AUDIT_KEYS`` describes, or None when it is unset."""
        spec = (os.environ if environ is None else environ).get(ENV_AUDIT_KEYS, "").strip()
        return cls.from_spec(spec) if spec else None

    def seal(self, event: AuditEvent) -> AuditEvent:
        """``event`` with its ``mac`` under the current key."""
        return event.model_copy(
            update={"mac": f"{self._current}:{self._mac(self._current, event)}"}
        )

    def check(self, event: AuditEvent) -> bool:
        """Whether ``event`` carries a valid seal under a known key (and its own hash holds)."""
        if not event.mac or event.computed_hash() != event.hash:
            return False
        key_id, _, mac = event.mac.partition(":")
        if key_id not in self._keys:
            return False
        return hmac.compare_digest(mac, self._mac(key_id, event))

    def _mac(self, key_id: str, event: AuditEvent) -> str:
        return hmac.new(self._keys[key_id], event.hash.encode(), hashlib.sha256).hexdigest()
