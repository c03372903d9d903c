"""Encrypt saga payloads in Temporal history: AES-256-GCM with key ids and rotation.

Every payload the data converter produces (saga inputs, step arguments and results,
update arguments) is encrypted before it leaves the process; the Temporal server
and anyone reading the history see only ciphertext and the id of the key used.
Search attributes and the step-context header are not encrypted: they carry names
and idempotency keys, never business data.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec

from temporal_sagas._errors import SagaError
from temporal_sagas._extras import require

ENCODING = b"binary/encrypted-aes256gcm"
KEY_ID = "encryption-key-id"
ENV_KEYS = "SAGAS_ENCRYPTION_KEYS"
_NONCE = 12


class EncryptionKeyError(SagaError):
    """A key is malformed or missing; the message names the key id."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec with named keys.

    New payloads are encrypted with the current key; payloads are decrypted with
    whichever key id they name, so old keys stay listed until every history that
    used them has aged out. The key id is authenticated (GCM associated data).

    Args:
        keys: Key id -> 32-byte key.
        current: The id of the key that encrypts new payloads.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        require("EncryptionCodec (SAGAS_ENCRYPTION_KEYS)", "encryption", "cryptography")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if current not in keys:
            raise EncryptionKeyError(
                f"the current key id {current!r} is not among the keys {sorted(keys)}"
            )
        for key_id, key in keys.items():
            if len(key) != 32:
                raise EncryptionKeyError(
                    f"key {key_id!r} is {len(key)} bytes; AES-256 needs 32 (base64 of 32 bytes)"
                )
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current

    @classmethod
    def from_spec(cls, spec: str) -> EncryptionCodec:
        """Build from ``id1:base64key1,id2:base64key2``; the first key is current."""
        keys: dict[str, bytes] = {}
        for item in (part.strip() for part in spec.split(",")):
            key_id, sep, encoded = item.partition(":")
            if not sep or not key_id:
                raise EncryptionKeyError(
                    f"bad key entry {item!r} in {ENV_KEYS}: write id:base64key[,id:base64key]"
                )
            try:
                keys[key_id] = base64.b64decode(encoded, validate=True)
            except binascii.Error as err:
                raise EncryptionKeyError(f"key {key_id!r} is not valid base64: {err}") from err
        if not keys:
            raise EncryptionKeyError(f"{ENV_KEYS} is set but lists no key")
        return cls(keys, current=next(iter(keys)))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload with the current key."""
        cipher = self._ciphers[self._current]
        out = []
        for payload in payloads:
            nonce = os.urandom(_NONCE)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self._current.encode())
            out.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: self._current.encode()},
                    data=nonce + sealed,
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt payloads this codec encrypted; pass others through unchanged."""
        return [self._open(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def _open(self, payload: Payload) -> Payload:
        from cryptography.exceptions import InvalidTag

        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise EncryptionKeyError(
                f"a payload was encrypted with key {key_id!r}, which is not configured: "
                f"add it to {ENV_KEYS} (keep old keys listed after a rotation)"
            )
        try:
            plain = cipher.decrypt(payload.data[:_NONCE], payload.data[_NONCE:], key_id.encode())
        except InvalidTag as err:
            raise EncryptionKeyError(
                f"a payload under key {key_id!r} failed authentication: wrong key or tampered data"
            ) from err
        return Payload.FromString(plain)


def codec_from_env(environ: Mapping[str, str] | None = None) -> EncryptionCodec | None:
    """The codec described by ``SAGAS_ENCRYPTION_KEYS``, or None when it is unset."""
    spec = (os.environ if environ is None else environ).get(ENV_KEYS, "").strip()
    return EncryptionCodec.from_spec(spec) if spec else None


async def decode_history(history: WorkflowHistory, codec: PayloadCodec) -> WorkflowHistory:
    """Return a copy of ``history`` whose payloads ``codec`` has decoded."""
    events = [type(e).FromString(e.SerializeToString()) for e in history.events]
    found = _payloads(events)
    if found:
        for target, plain in zip(found, await codec.decode(found), strict=True):
            if plain is not target:
                target.CopyFrom(plain)
    return WorkflowHistory(history.workflow_id, events)


def encryption_key_ids(history: WorkflowHistory) -> list[str]:
    """The ids of the keys ``history``'s encrypted payloads name, sorted; empty if none."""
    return sorted(
        {
            p.metadata.get(KEY_ID, b"").decode()
            for p in _payloads(history.events)
            if p.metadata.get("encoding") == ENCODING
        }
    )


def _payloads(events: Sequence[Message]) -> list[Payload]:
    """Every payload in ``events``, at any depth, in order (the messages themselves)."""
    found: list[Payload] = []
    for event in events:
        _collect(event, found)
    return found


def _collect(message: Message, found: list[Payload]) -> None:
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            values = list(value.values())
        elif isinstance(value, Message):
            values = [value]
        else:
            values = list(value)
        for item in values:
            if not isinstance(item, Message):
                continue
            if isinstance(item, Payload):
                found.append(item)
            else:
                _collect(item, found)
