"""Signed operator requests: the message format, signing, the keys a worker trusts.

An operator's ``retry``, ``skip`` or ``resolve`` is only as trustworthy as the
caller's word unless the request is signed. The signature (Ed25519) covers one
canonical message: the deterministic JSON (sorted keys, no spaces) of::

    {action, issued_at, namespace, nonce, reason, run_id, step, workflow_id}

so a signed request cannot be moved to another namespace, saga, run, action or step,
or have its reason edited. ``issued_at`` (unix seconds) bounds how long it stays
valid; the saga accepts each ``nonce`` once.

Both ends use this module: ``sagas retry|skip|resolve`` signs with `sign_request`,
the saga's update validator checks with `OperatorKeys.verify`. The validator runs only
when an update arrives live, never on replay, which is why keys may be added, rotated
or removed without breaking the replay of any recorded history.

The keys a worker trusts are registered per task queue by `SagaPlugin` when it builds
the worker (`register_operator_keys`), and looked up by the validator
(`operator_keys_for`): process configuration, read only live.

``cryptography`` is imported when keys are loaded or a request is signed (the
``[encryption]`` extra), never inside the workflow sandbox: the validator only calls
methods of key objects loaded outside it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from temporal_sagas._contract import OperatorActionName
from temporal_sagas._errors import SagaError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

ACTIONS: tuple[OperatorActionName, ...] = get_args(OperatorActionName)

#: How old a signed request may be when it reaches the saga, by default.
DEFAULT_MAX_AGE_SECONDS = 300
#: How far ahead of the saga's clock a request may be dated (clock skew).
FUTURE_SKEW_SECONDS = 60

#: The environment variable naming the worker's operator keys file.
KEYS_ENV = "SAGAS_OPERATOR_KEYS"
#: The environment variables an operator's CLI signs with.
KEY_ID_ENV = "SAGAS_OPERATOR_KEY_ID"
PRIVATE_KEY_ENV = "SAGAS_OPERATOR_KEY"
PRIVATE_KEY_FILE_ENV = "SAGAS_OPERATOR_KEY_FILE"


class OperatorKeyError(SagaError):
    """Operator keys or a private key are missing or malformed."""


class OperatorAuthError(SagaError):
    """A signed operator request does not verify (the message says why)."""


@dataclass(frozen=True)
class SignedFields:
    """What an operator request carries besides step and reason, once signed."""

    key_id: str
    issued_at: int
    nonce: str
    signature: str


def canonical_message(
    *,
    namespace: str,
    workflow_id: str,
    run_id: str,
    action: str,
    step: str | None,
    reason: str | None,
    issued_at: int,
    nonce: str,
) -> bytes:
    """The exact bytes an operator signs and a saga verifies."""
    body = {
        "action": action,
        "issued_at": issued_at,
        "namespace": namespace,
        "nonce": nonce,
        "reason": reason,
        "run_id": run_id,
        "step": step,
        "workflow_id": workflow_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _crypto(feature: str) -> None:
    from temporal_sagas._extras import require

    require(feature, "encryption", "cryptography")


def sign_request(
    private_key: Ed25519PrivateKey,
    key_id: str,
    *,
    namespace: str,
    workflow_id: str,
    run_id: str,
    action: str,
    step: str | None,
    reason: str | None,
    issued_at: int | None = None,
    nonce: str | None = None,
) -> SignedFields:
    """Sign an operator request for one run of one saga; dated now, with a fresh nonce."""
    issued = int(time.time()) if issued_at is None else issued_at
    once = nonce or secrets.token_urlsafe(18)
    message = canonical_message(
        namespace=namespace,
        workflow_id=workflow_id,
        run_id=run_id,
        action=action,
        step=step,
        reason=reason,
        issued_at=issued,
        nonce=once,
    )
    signature = base64.b64encode(private_key.sign(message)).decode()
    return SignedFields(key_id=key_id, issued_at=issued, nonce=once, signature=signature)


@dataclass(frozen=True)
class OperatorKey:
    """One operator's public key and the actions it may sign."""

    public_key: Ed25519PublicKey
    actions: frozenset[OperatorActionName]


@dataclass(frozen=True)
class OperatorKeys:
    """The operators a worker trusts: key id -> (Ed25519 public key, allowed actions).

    Attributes:
        keys: Key id -> `OperatorKey`. The key id is what the saga records as the
            operator.
        max_age_seconds: How old a signed request may be when it arrives.
    """

    keys: Mapping[str, OperatorKey]
    max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS

    def __post_init__(self) -> None:
        if not self.keys:
            raise OperatorKeyError("operator keys: the key set is empty; give at least one key")

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, source: str = "operator keys"
    ) -> OperatorKeys:
        """Build from ``{"max_age_seconds": n, "operators": {id: {public_key, actions}}}``.

        ``public_key`` is the base64 of the raw 32-byte Ed25519 public key or a PEM
        ``PUBLIC KEY`` block; ``actions`` lists ``retry``, ``skip``, ``resolve``
        (all three when left out).
        """
        _crypto("operator keys (SAGAS_OPERATOR_KEYS)")
        operators = data.get("operators")
        if not isinstance(operators, Mapping) or not operators:
            raise OperatorKeyError(f"{source}: needs an 'operators' table of key id -> key")
        keys: dict[str, OperatorKey] = {}
        for key_id, entry in operators.items():
            if not isinstance(entry, Mapping) or not isinstance(entry.get("public_key"), str):
                raise OperatorKeyError(f"{source}: operator {key_id!r} needs a public_key string")
            actions = entry.get("actions", list(ACTIONS))
            unknown = [a for a in actions if a not in ACTIONS]
            if unknown or not actions:
                raise OperatorKeyError(
                    f"{source}: operator {key_id!r} has actions {list(actions)!r}; "
                    f"choose among {', '.join(ACTIONS)}"
                )
            keys[str(key_id)] = OperatorKey(
                public_key=load_public_key(entry["public_key"], f"{source}: {key_id}"),
                actions=frozenset(actions),
            )
        max_age = data.get("max_age_seconds", DEFAULT_MAX_AGE_SECONDS)
        if not isinstance(max_age, int) or max_age <= 0:
            raise OperatorKeyError(f"{source}: max_age_seconds must be a positive integer")
        return cls(keys=keys, max_age_seconds=max_age)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> OperatorKeys:
        """Read a JSON or TOML operator keys file (see `from_mapping` for its shape)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
            data = tomllib.loads(text) if file.suffix.lower() == ".toml" else json.loads(text)
        except OSError as err:
            raise OperatorKeyError(f"operator keys file {file}: {err.strerror}") from None
        except (ValueError, tomllib.TOMLDecodeError) as err:
            raise OperatorKeyError(f"operator keys file {file} does not parse: {err}") from None
        if not isinstance(data, dict):
            raise OperatorKeyError(f"operator keys file {file} must hold a table")
        return cls.from_mapping(data, source=f"operator keys file {file}")

    @classmethod
    def from_env(cls) -> OperatorKeys | None:
        """The keys ``SAGAS_OPERATOR_KEYS`` names, or None (development mode) when unset."""
        path = os.environ.get(KEYS_ENV)
        return cls.load(path) if path else None

    def verify(
        self,
        fields: SignedFields,
        *,
        namespace: str,
        workflow_id: str,
        run_id: str,
        action: OperatorActionName,
        step: str | None,
        reason: str | None,
        now: float,
    ) -> None:
        """Check a signed request; raise `OperatorAuthError` saying what is wrong.

        The nonce-once rule is the saga's (it knows which nonces it accepted).
        """
        entry = self.keys.get(fields.key_id)
        if entry is None:
            raise OperatorAuthError(f"operator key {fields.key_id!r} is not one this saga trusts")
        if action not in entry.actions:
            raise OperatorAuthError(
                f"operator key {fields.key_id!r} may not {action} "
                f"(it may {', '.join(sorted(entry.actions))})"
            )
        age = now - fields.issued_at
        if age > self.max_age_seconds:
            raise OperatorAuthError(
                f"the signed request expired: issued {int(age)} s ago, valid for "
                f"{self.max_age_seconds} s; sign a new one"
            )
        if age < -FUTURE_SKEW_SECONDS:
            raise OperatorAuthError(
                f"the signed request is dated {int(-age)} s in the future; check the clock"
            )
        message = canonical_message(
            namespace=namespace,
            workflow_id=workflow_id,
            run_id=run_id,
            action=action,
            step=step,
            reason=reason,
            issued_at=fields.issued_at,
            nonce=fields.nonce,
        )
        try:
            signature = base64.b64decode(fields.signature, validate=True)
            # The key object was loaded outside the sandbox; verifying imports nothing.
            entry.public_key.verify(signature, message)
        except Exception:
            raise OperatorAuthError(
                f"the signature of operator key {fields.key_id!r} does not match this "
                "request (namespace, saga, run, action, step, reason, time and nonce)"
            ) from None


# -- keys: loading and generating ------------------------------------------------------


def load_public_key(text: str, where: str) -> Ed25519PublicKey:
    """An Ed25519 public key from base64 raw bytes or a PEM block."""
    _crypto("operator keys (SAGAS_OPERATOR_KEYS)")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        if "BEGIN" in text:
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as err:
        raise OperatorKeyError(f"{where}: not an Ed25519 public key ({err})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise OperatorKeyError(f"{where}: the key is not Ed25519")
    return key


def load_private_key(text: str, where: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from base64 of its raw 32 bytes or a PEM block."""
    _crypto("signing operator requests")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        if "BEGIN" in text:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(
                base64.b64decode(text.strip(), validate=True)
            )
    except (ValueError, TypeError, binascii.Error) as err:
        raise OperatorKeyError(f"{where}: not an unencrypted Ed25519 private key ({err})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise OperatorKeyError(f"{where}: the key is not Ed25519")
    return key


def generate_key_pair() -> tuple[str, str]:
    """A new operator key pair: (private, public), each base64 of the raw 32 bytes."""
    _crypto("generating operator keys")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    private_bytes = private.private_bytes(
        raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public_bytes = private.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
    return base64.b64encode(private_bytes).decode(), base64.b64encode(public_bytes).decode()


# -- the registry the update validators read ---------------------------------------------

#: Task queue -> the keys its worker trusts (None: development mode, unauthenticated).
_REGISTRY: dict[str, OperatorKeys | None] = {}


def register_operator_keys(task_queue: str, keys: OperatorKeys | None) -> None:
    """Record which operator keys the worker polling ``task_queue`` trusts.

    `SagaPlugin` calls it when it builds a worker, so the last worker built for a
    task queue in this process decides.
    """
    _REGISTRY[task_queue] = keys


def operator_keys_for(task_queue: str) -> OperatorKeys | None:
    """The keys registered for ``task_queue``; None means development mode."""
    return _REGISTRY.get(task_queue)
