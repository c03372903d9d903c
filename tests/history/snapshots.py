"""Snapshot files: compare, or (re)write when SAGAS_UPDATE_SNAPSHOTS=1."""

from __future__ import annotations

import os
from pathlib import Path

SNAPSHOTS = Path(__file__).parent / "snapshots"


def assert_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("SAGAS_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if os.environ.get("CI") == "true":
            raise AssertionError(f"snapshot {name} is missing; record it locally first")
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its snapshot"
