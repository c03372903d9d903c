"""Key lists as the environment gives them: ``id1:base64key1,id2:base64key2``.

The payload codec (``SAGAS_ENCRYPTION_KEYS``) and the audit seals (``SAGAS_AUDIT_KEYS``)
rotate keys the same way: the first entry is the current key, every entry still reads.
This is the one parser for both; each passes the error class its users catch.
"""

from __future__ import annotations

import base64
import binascii


def parse_key_list(spec: str, *, variable: str, error: type[Exception]) -> dict[str, bytes]:
    """Key id -> key bytes, in the order given (the first is the current key).

    Args:
        spec: The list, as the environment variable holds it.
        variable: The variable's name, for messages.
        error: The exception to raise (the feature's own `SagaError` subclass).

    Raises:
        Exception: ``error``, when an entry is malformed or not base64, a key id is
            listed twice (which of the two would read? refuse rather than guess), or
            the list is empty.
    """
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in spec.split(",") if part.strip()):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id:
            raise error(f"bad key entry {item!r} in {variable}: write id:base64key[,id:base64key]")
        if key_id in keys:
            raise error(f"key id {key_id!r} is listed twice in {variable}")
        try:
            keys[key_id] = base64.b64decode(encoded, validate=True)
        except binascii.Error as err:
            raise error(f"key {key_id!r} in {variable} is not valid base64: {err}") from None
    if not keys:
        raise error(f"{variable} is set but lists no key")
    return keys
