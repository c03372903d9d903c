"""History JSON files: reading exports, writing replay-ready files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from temporal_sagas._contract import STEP_HEADER
from temporal_sagas._errors import SagaError
from temporal_sagas._models import StepContext

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

#: The largest history file read, in bytes. Temporal ends a workflow whose history
#: passes 50 MB; its JSON export is larger (payloads in base64, field names, indentation).
MAX_HISTORY_BYTES = 128 * 1024 * 1024

#: How deep JSON arrays and objects may nest in a history file. A history's events
#: nest about a dozen levels, plus two per failure cause in a chain of causes.
MAX_HISTORY_DEPTH = 100

# A JSON string (skipped whole, so brackets inside it do not count) or a bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class SagaHistoryError(SagaError):
    """A history cannot be read as a saga's: malformed JSON, not a saga, or empty."""


def history_file_name(workflow_id: str, run_id: str) -> str:
    """The file name `export_history` uses: ``<workflow id>__<run id>.json``, made path-safe."""
    return f"{_UNSAFE.sub('_', workflow_id)}__{_UNSAFE.sub('_', run_id)}.json"


def load_history(path: str | Path, workflow_id: str | None = None) -> WorkflowHistory:
    """Load a history JSON file (``temporal workflow show --output json``, ``sagas export``).

    The workflow id is not part of the history JSON itself; it is taken from
    ``workflow_id``, else from the saga's step headers, else from the file name.

    Raises:
        SagaHistoryError: The file is missing, is not JSON, or is not a history; or it
            is larger than `MAX_HISTORY_BYTES` or nests deeper than `MAX_HISTORY_DEPTH`.
    """
    file = Path(path)
    data = read_history_json(file)
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise SagaHistoryError(
            f'history file {str(file)!r} has no "events" list, so it is not a Temporal '
            "history export"
        )
    wid = workflow_id or _workflow_id_from_headers(data) or file.stem.split("__")[0]
    try:
        return WorkflowHistory.from_json(wid, data)
    except Exception as err:  # protobuf parse errors have many types, RecursionError too
        raise SagaHistoryError(
            f"history file {str(file)!r} is not a readable Temporal history: "
            f"{' '.join(str(err).split())[:500]}"
        ) from err


def read_history_json(path: Path) -> Any:
    """The JSON document in a history file, read within `MAX_HISTORY_BYTES` and `MAX_HISTORY_DEPTH`.

    The size is checked before the file is read, and the nesting before it is parsed:
    Python's JSON parser and protobuf's recurse, and would fail with a RecursionError.

    Raises:
        SagaHistoryError: The file cannot be read, is too large, too deep or not JSON.
    """
    name = repr(str(path))
    try:
        with path.open("rb") as stream:
            # A regular file's size says it all; other files (a pipe, /dev/zero) are read
            # to at most one byte past the limit.
            too_large = os.fstat(stream.fileno()).st_size > MAX_HISTORY_BYTES
            raw = b"" if too_large else stream.read(MAX_HISTORY_BYTES + 1)
    except OSError as err:
        raise SagaHistoryError(f"cannot read history file {name}: {err.strerror}") from err
    if too_large or len(raw) > MAX_HISTORY_BYTES:
        raise SagaHistoryError(
            f"history file {name} is larger than {MAX_HISTORY_BYTES} bytes, the limit for a "
            "history file; no saga history exported from Temporal is that large"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise SagaHistoryError(
            f"history file {name} is not UTF-8 text (line {line}, byte {err.start})"
        ) from None
    del raw
    too_deep = _nesting_beyond(text, MAX_HISTORY_DEPTH)
    if too_deep is not None:
        line = text.count("\n", 0, too_deep) + 1
        column = too_deep - text.rfind("\n", 0, too_deep)
        raise SagaHistoryError(
            f"history file {name} nests JSON deeper than {MAX_HISTORY_DEPTH} levels (line "
            f"{line}, column {column}), so it is not a Temporal history export"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SagaHistoryError(
            f"history file {name} is not valid JSON (line {err.lineno}, column "
            f"{err.colno}: {err.msg}); export it again with `sagas export` or "
            "`temporal workflow show --output json`"
        ) from err
    except (RecursionError, MemoryError) as err:  # guarded by the limits; kept as a net
        raise SagaHistoryError(
            f"history file {name} is too large or too deeply nested to read ({type(err).__name__})"
        ) from None


def _nesting_beyond(text: str, limit: int) -> int | None:
    """The offset of the first bracket nesting deeper than ``limit``, if any."""
    depth = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char == "[" or char == "{":
            depth += 1
            if depth > limit:
                return token.start()
        elif char == "]" or char == "}":
            depth -= 1
    return None


def dump_history(history: WorkflowHistory) -> str:
    """The history as JSON text that `load_history` and ``WorkflowHistory.from_json`` read."""
    return history.to_json()


def _workflow_id_from_headers(data: dict[str, Any]) -> str | None:
    for event in data["events"]:
        attrs = (
            event.get("activityTaskScheduledEventAttributes") if isinstance(event, dict) else None
        )
        header = ((attrs or {}).get("header") or {}).get("fields", {}).get(STEP_HEADER)
        if header is None:
            continue
        try:
            history = WorkflowHistory.from_json("?", {"events": [event]})
            payload = history.events[0].activity_task_scheduled_event_attributes.header.fields[
                STEP_HEADER
            ]
            context = pydantic_data_converter.payload_converter.from_payloads(
                [payload], [StepContext]
            )[0]
        except Exception:  # an unreadable header: fall back to the file name
            return None
        return str(context.workflow_id)
    return None
