"""The worker's log stream redacts secrets by default."""

from __future__ import annotations

import io
import json
import logging

import structlog
from pydantic import SecretStr

from temporal_sagas.workers import configure_logging


def test_default_worker_logging_redacts_secret_values_and_secret_keys() -> None:
    out, root = io.StringIO(), logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("json", "INFO", stream=out)
    try:
        structlog.get_logger("app").info(
            "charged", card=SecretStr("4111111111111111"), password="hunter2", amount=12
        )
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level

    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert "4111111111111111" not in out.getvalue()
    assert "hunter2" not in out.getvalue()
    assert line["amount"] == 12


def test_a_card_number_quoted_in_an_error_is_masked_in_the_logs() -> None:
    from temporal_sagas.audit import Redactor

    event = Redactor()(
        None, "info", {"error": "ApplicationError: card 4111 1111 1111 1111 declined"}
    )

    assert event["error"] == "ApplicationError: card [REDACTED CARD] declined"
