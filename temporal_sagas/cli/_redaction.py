"""What a person reads from the CLI passes through the same redaction as the logs.

`sagas show`, `show --json`, `plan` and `audit` mask values under secret key names
(the defaults plus ``SAGAS_REDACT_KEYS``), pydantic secrets and card numbers in free
text (failure messages quote inputs), unless ``--unredacted`` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def unredacted_option(command: F) -> F:
    """Add ``--unredacted`` to a command."""
    return click.option(
        "--unredacted",
        is_flag=True,
        help="Show secrets in clear (key names in SAGAS_REDACT_KEYS, card numbers).",
    )(command)


def redaction(unredacted: bool) -> Callable[[Any], Any]:
    """The function that masks a value (text, or JSON data) for printing."""
    if unredacted:
        return lambda value: value
    from temporal_sagas.audit._processors import Redactor

    redactor = Redactor.from_env()
    return lambda value: redactor.redact_value(None, value)
