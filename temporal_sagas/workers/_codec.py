"""Encrypt saga payloads in Temporal history: AES-256-GCM with key ids and rotation.

Every payload the data converter produces (saga inputs, step arguments and results,
update arguments, and with `SagaPlugin` failure messages too) is encrypted before it
leaves the process; the Temporal server and anyone reading the history see only
ciphertext, the id of the key used and the saga it was sealed for. Search attributes
and the step-context header are not encrypted: they carry names and idempotency
keys, never business data.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from typing import Self

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from temporal_sagas._errors import SagaError
from temporal_sagas._extras import require
from temporal_sagas._keys import parse_key_list

ENCODING = b"binary/encrypted-aes256gcm"
KEY_ID = "encryption-key-id"
#: Metadata naming what the associated data binds, besides the key id: ``wf`` for a
#: payload sealed for one namespace and workflow id. Payloads without it (written
#: before the binding existed, or where the SDK gives no workflow) bind the key id only.
AAD = "encryption-aad"
BOUND = b"wf"
NAMESPACE = "encryption-namespace"
WORKFLOW_ID = "encryption-workflow-id"
#: What a strict codec decodes a payload that is not encrypted to, and the metadata
#: naming the encoding it had.
REFUSED = b"binary/refused-plaintext"
REFUSED_ENCODING = "refused-encoding"
ENV_KEYS = "SAGAS_ENCRYPTION_KEYS"
ENV_STRICT = "SAGAS_ENCRYPTION_STRICT"
_NONCE = 12
_TAG = 16
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class EncryptionKeyError(SagaError):
    """A key is malformed or missing, or a payload cannot be decrypted; the message says which."""


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """AES-256-GCM payload codec with named keys.

    New payloads are encrypted with the current key; payloads are decrypted with
    whichever key id they name, so old keys stay listed until every history that
    used them has aged out. The key id is authenticated (GCM associated data), and
    so are the namespace and workflow id of the saga a payload belongs to, where the
    SDK says which (`with_context`): ciphertext copied into a saga with another
    workflow id fails to decrypt there.

    Args:
        keys: Key id -> 32-byte key.
        current: The id of the key that encrypts new payloads.
        strict: Refuse payloads that are not encrypted instead of passing them
            through, so that nobody without the keys can hand a worker plaintext
            (an update, a signal, a saga input); see `decode` for where the refusal
            is raised. Only for deployments whose open sagas all started with
            encryption on.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str, *, strict: bool = False) -> None:
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
        self.strict = strict
        #: (namespace, workflow id) of the saga the payloads belong to, when known.
        self._saga: tuple[str, str] | None = None

    @classmethod
    def from_spec(cls, spec: str, *, strict: bool = False) -> EncryptionCodec:
        """Build from ``id1:base64key1,id2:base64key2``; the first key is current.

        Raises:
            EncryptionKeyError: An entry is malformed, or a key id is listed twice.
        """
        keys = parse_key_list(spec, variable=ENV_KEYS, error=EncryptionKeyError)
        return cls(keys, current=next(iter(keys)), strict=strict)

    def with_context(self, context: SerializationContext) -> Self:
        """This codec bound to the saga ``context`` names; itself when it names none.

        The SDK calls it for every workflow and activity payload: the workflow id is
        the saga's own (its child's, for a child saga's input and result).
        """
        workflow_id = getattr(context, "workflow_id", None)
        namespace = getattr(context, "namespace", None)
        if not isinstance(context, _SAGA_CONTEXTS) or not workflow_id or namespace is None:
            return self
        bound = copy.copy(self)
        bound._saga = (namespace, workflow_id)
        return bound

    def lenient(self) -> EncryptionCodec:
        """This codec without strict mode, for reading histories.

        Histories hold plain payloads (search attributes, headers) besides the
        encrypted ones.
        """
        if not self.strict:
            return self
        relaxed = copy.copy(self)
        relaxed.strict = False
        return relaxed

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload with the current key, bound to the saga when known."""
        cipher = self._ciphers[self._current]
        metadata = {"encoding": ENCODING, KEY_ID: self._current.encode()}
        if self._saga is not None:
            namespace, workflow_id = self._saga
            metadata |= {
                AAD: BOUND,
                NAMESPACE: namespace.encode(),
                WORKFLOW_ID: workflow_id.encode(),
            }
        aad = _associated_data(self._current, self._saga)
        out = []
        for payload in payloads:
            nonce = os.urandom(_NONCE)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), aad)
            out.append(Payload(metadata=metadata, data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt payloads this codec encrypted; pass others through unless strict.

        A strict codec decodes a payload that is not encrypted to a refusal (`REFUSED`,
        the plaintext dropped), which the payload converter raises as an error where
        the value is read (`refused_plaintext`), not here: raised here, it would fail
        the whole workflow task, so a plaintext signal, which stays in history, would
        stop the saga for good. Read by `SagaPayloadConverter`, it refuses the saga's
        input (the saga fails, nothing ran), rejects an update and drops a signal.

        Raises:
            EncryptionKeyError: A payload names a key not configured, fails
                authentication (wrong key, tampered, or sealed for another saga), or
                is malformed.
        """
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") == ENCODING:
                out.append(self._open(payload))
            elif self.strict:
                encoding = payload.metadata.get("encoding", b"none")
                out.append(Payload(metadata={"encoding": REFUSED, REFUSED_ENCODING: encoding}))
            else:
                out.append(payload)
        return out

    def _open(self, payload: Payload) -> Payload:
        from cryptography.exceptions import InvalidTag

        key_id = _text(payload, KEY_ID)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise EncryptionKeyError(
                f"a payload was encrypted with key {key_id!r}, which is not configured: "
                f"add it to {ENV_KEYS} (keep old keys listed after a rotation)"
            )
        saga = self._sealed_for(payload)
        if len(payload.data) < _NONCE + _TAG:
            raise EncryptionKeyError(
                f"a payload under key {key_id!r} is {len(payload.data)} bytes, too short to "
                "be ciphertext: it was truncated or tampered with"
            )
        try:
            plain = cipher.decrypt(
                payload.data[:_NONCE], payload.data[_NONCE:], _associated_data(key_id, saga)
            )
        except InvalidTag as err:
            raise EncryptionKeyError(
                f"a payload under key {key_id!r} failed authentication: wrong key, tampered "
                "data, or ciphertext moved from another saga"
            ) from err
        try:
            return Payload.FromString(plain)
        except DecodeError as err:
            raise EncryptionKeyError(
                f"a payload under key {key_id!r} decrypted to something that is not a payload"
            ) from err

    def _sealed_for(self, payload: Payload) -> tuple[str, str] | None:
        """The saga ``payload`` says it was sealed for, checked against this codec's saga.

        Only the workflow id is compared: a `Replayer` decodes under its own namespace
        ("ReplayNamespace" unless told), not the one the history was written in. The
        namespace is still authenticated, as part of the associated data.
        """
        marker = payload.metadata.get(AAD)
        if marker is None:
            return None  # written before the binding existed, or outside any saga
        if marker != BOUND:
            raise EncryptionKeyError(
                f"a payload names associated data {marker!r} this codec does not know"
            )
        sealed = (_text(payload, NAMESPACE), _text(payload, WORKFLOW_ID))
        if self._saga is not None and not _same_saga(sealed[1], self._saga[1]):
            raise EncryptionKeyError(
                f"a payload sealed for workflow {sealed[1]!r} reached workflow "
                f"{self._saga[1]!r}: ciphertext cannot be moved between sagas"
            )
        return sealed


def refused_plaintext(payloads: Sequence[Payload]) -> str | None:
    """Why ``payloads`` cannot be read, if a strict codec refused one of them; else None."""
    for payload in payloads:
        if payload.metadata.get("encoding") == REFUSED:
            encoding = payload.metadata.get(REFUSED_ENCODING, b"none")
            return (
                f"a payload was sent unencrypted (encoding "
                f"{encoding.decode(errors='replace')!r}) and {ENV_STRICT} is on, so it was "
                f"refused; send it through a client that has the keys in {ENV_KEYS}"
            )
    return None


#: What a schedule appends to its workflow id for each run it starts.
_SCHEDULED_RUN = re.compile(r"-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_SAGA_CONTEXTS = (WorkflowSerializationContext, ActivitySerializationContext)


def _same_saga(sealed: str, reached: str) -> bool:
    """Whether a payload sealed for workflow id ``sealed`` belongs to workflow ``reached``.

    A schedule's action is encoded for the schedule's workflow id, and each run gets
    that id with the time of the run appended (``id-2026-01-31T12:00:00Z``).
    """
    if sealed == reached:
        return True
    run = reached.removeprefix(sealed)
    return run != reached and _SCHEDULED_RUN.fullmatch(run) is not None


def _associated_data(key_id: str, saga: tuple[str, str] | None) -> bytes:
    """The GCM associated data: the key id, then the saga's namespace and workflow id.

    Unbound payloads keep the original form (the key id alone) so histories written
    before the binding still decrypt. Bound fields are length-prefixed, so no choice
    of names can make two different sagas produce the same bytes.
    """
    if saga is None:
        return key_id.encode()
    parts = [key_id.encode(), *(name.encode() for name in saga)]
    return BOUND + b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def _text(payload: Payload, key: str) -> str:
    try:
        return payload.metadata.get(key, b"").decode()
    except UnicodeDecodeError as err:
        raise EncryptionKeyError(
            f"a payload's {key!r} metadata is not UTF-8 text: the payload is malformed"
        ) from err


def codec_from_env(environ: Mapping[str, str] | None = None) -> EncryptionCodec | None:
    """The codec described by ``SAGAS_ENCRYPTION_KEYS``, or None when it is unset.

    ``SAGAS_ENCRYPTION_STRICT=1`` makes it strict (`EncryptionCodec`).

    Raises:
        EncryptionKeyError: The keys are malformed, or the strict flag is neither
            on (1, true, yes, on) nor off (0, false, no, off, empty).
    """
    env = os.environ if environ is None else environ
    spec = env.get(ENV_KEYS, "").strip()
    flag = env.get(ENV_STRICT, "").strip().lower()
    if flag not in _TRUE | _FALSE:
        raise EncryptionKeyError(f"{ENV_STRICT}={flag!r}: write 1 to turn it on, 0 to turn it off")
    strict = flag in _TRUE
    if strict and not spec:
        raise EncryptionKeyError(f"{ENV_STRICT} is on but {ENV_KEYS} lists no key")
    return EncryptionCodec.from_spec(spec, strict=strict) if spec else None


async def decode_history(history: WorkflowHistory, codec: PayloadCodec) -> WorkflowHistory:
    """Return a copy of ``history`` whose payloads ``codec`` has decoded.

    A history holds plain payloads besides the encrypted ones (search attributes,
    headers, and everything written before encryption was turned on), so a strict
    `EncryptionCodec` reads it as a lenient one. Each bound payload is checked
    against the namespace and workflow id it names (a parent's history also holds
    its children's inputs, sealed for them).
    """
    if isinstance(codec, EncryptionCodec):
        codec = codec.lenient()
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
