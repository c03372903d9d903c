"""The operator request format, its signatures and the operator keys file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from temporal_sagas import OperatorKeys
from temporal_sagas._operators import (
    OperatorAuthError,
    OperatorKeyError,
    canonical_message,
    generate_key_pair,
    load_private_key,
    sign_request,
)

SCOPE = {
    "namespace": "prod",
    "workflow_id": "order-1",
    "run_id": "run-1",
    "action": "skip",
    "step": "charge",
    "reason": "refunded by phone",
}


def _keys_file(tmp_path: Path, public: str, actions: list[str] | None = None) -> Path:
    entry = {"public_key": public} | ({"actions": actions} if actions is not None else {})
    path = tmp_path / "operators.json"
    path.write_text(json.dumps({"max_age_seconds": 120, "operators": {"ana": entry}}))
    return path


def test_the_signed_message_is_sorted_compact_json_of_the_whole_scope() -> None:
    message = canonical_message(**SCOPE, issued_at=1700000000, nonce="n1")  # type: ignore[arg-type]
    assert message == (
        b'{"action":"skip","issued_at":1700000000,"namespace":"prod","nonce":"n1",'
        b'"reason":"refunded by phone","run_id":"run-1","step":"charge","workflow_id":"order-1"}'
    )


def test_a_signature_verifies_with_the_matching_public_key_only(tmp_path: Path) -> None:
    private, public = generate_key_pair()
    keys = OperatorKeys.load(_keys_file(tmp_path, public))
    signed = sign_request(load_private_key(private, "test"), "ana", **SCOPE)  # type: ignore[arg-type]
    keys.verify(signed, **SCOPE, now=signed.issued_at)  # type: ignore[arg-type]
    forged = sign_request(Ed25519PrivateKey.generate(), "ana", **SCOPE)  # type: ignore[arg-type]
    with pytest.raises(OperatorAuthError, match="does not match"):
        keys.verify(forged, **SCOPE, now=forged.issued_at)  # type: ignore[arg-type]


def test_a_request_dated_too_far_ahead_is_refused(tmp_path: Path) -> None:
    private, public = generate_key_pair()
    keys = OperatorKeys.load(_keys_file(tmp_path, public))
    signed = sign_request(load_private_key(private, "t"), "ana", **SCOPE, issued_at=10_000)  # type: ignore[arg-type]
    with pytest.raises(OperatorAuthError, match="in the future"):
        keys.verify(signed, **SCOPE, now=10_000 - 3600)  # type: ignore[arg-type]


def test_a_toml_keys_file_gives_each_key_its_actions(tmp_path: Path) -> None:
    _, public = generate_key_pair()
    path = tmp_path / "operators.toml"
    path.write_text(f'[operators.ana]\npublic_key = "{public}"\nactions = ["retry"]\n')
    keys = OperatorKeys.load(path)
    assert keys.keys["ana"].actions == frozenset({"retry"})
    assert keys.max_age_seconds == 300


def test_pem_keys_load_as_well_as_raw_base64(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    pem_public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem_private = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    keys = OperatorKeys.load(_keys_file(tmp_path, pem_public.decode()))
    signer = load_private_key(pem_private.decode(), "test")
    signed = sign_request(signer, "ana", **SCOPE)  # type: ignore[arg-type]
    keys.verify(signed, **SCOPE, now=signed.issued_at)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("public", "actions", "message"),
    [
        (base64.b64encode(b"short").decode(), None, "not an Ed25519 public key"),
        (None, ["retry", "delete"], "choose among"),
    ],
)
def test_a_malformed_keys_file_names_the_operator_and_the_problem(
    tmp_path: Path, public: str | None, actions: list[str] | None, message: str
) -> None:
    good = generate_key_pair()[1]
    with pytest.raises(OperatorKeyError, match=message) as caught:
        OperatorKeys.load(_keys_file(tmp_path, public or good, actions))
    assert "ana" in str(caught.value)
