"""Card numbers in free text, found and masked: one rule for the engine, logs and CLI.

Failure messages quote inputs, and an input can hold a card number. The engine masks
them where it flattens a failure (`temporal_sagas.workflows._records.failure_info`),
before the message enters the saga's state and its hash-chained audit events, so the
chain covers the masked text; the log processors and the CLI apply the same rule to
whatever else they print. Pure, so the workflow sandbox can use it.
"""

from __future__ import annotations

import re

#: What a card number found in free text is replaced with.
REDACTED_CARD = "[REDACTED CARD]"

# 13 to 19 digits, optionally grouped by single spaces or dashes: the shapes card
# numbers are written in. Digits glued to letters are part of an identifier (a SHA-256
# hex digest holds a Luhn-valid run of 13+ digits now and then), and a candidate is
# masked only if it passes the Luhn check.
_CARD = re.compile(r"(?<![0-9A-Za-z-])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z-])")


def mask_card_numbers(text: str) -> str:
    """``text`` with every Luhn-valid card number in it replaced by `REDACTED_CARD`."""
    return _CARD.sub(_mask, text) if any(c.isdigit() for c in text) else text


def _mask(match: re.Match[str]) -> str:
    digits = [int(c) for c in match.group() if c.isdigit()]
    return REDACTED_CARD if _luhn(digits) else match.group()


def _luhn(digits: list[int]) -> bool:
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0
