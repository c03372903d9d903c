"""History JSON files: reading exports, writing replay-ready files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from temporal_sagas._contract import STEP_HEADER
from temporal_sagas._errors import SagaError
from temporal_sagas._models import StepContext

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


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
        SagaHistoryError: The file is missing, is not JSON, or is not a history.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise SagaHistoryError(f"cannot read history file {str(file)!r}: {err.strerror}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SagaHistoryError(
            f"history file {str(file)!r} is not valid JSON (line {err.lineno}, column "
            f"{err.colno}: {err.msg}); export it again with `sagas export` or "
            "`temporal workflow show --output json`"
        ) from err
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise SagaHistoryError(
            f'history file {str(file)!r} has no "events" list, so it is not a Temporal '
            "history export"
        )
    wid = workflow_id or _workflow_id_from_headers(data) or file.stem.split("__")[0]
    try:
        return WorkflowHistory.from_json(wid, data)
    except Exception as err:  # protobuf parse errors have many types
        raise SagaHistoryError(
            f"history file {str(file)!r} is not a readable Temporal history: {err}"
        ) from err


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
