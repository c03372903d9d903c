"""Hostile history files, generated (multi-megabyte files are never committed)."""

from __future__ import annotations

from pathlib import Path

from temporal_sagas.history._files import MAX_HISTORY_BYTES

#: The hostile files every command that reads a history file must refuse.
HOSTILE_KINDS = ("100000-levels-deep", "over-the-size-limit")


def deep_history(path: Path, levels: int) -> Path:
    """A file whose ``events`` list holds ``levels`` nested lists."""
    path.write_text('{"events": ' + "[" * levels + "]" * levels + "}")
    return path


def oversized(path: Path, size: int) -> Path:
    """A sparse file of ``size`` bytes: it takes no disk, and no memory unless read."""
    with path.open("wb") as file:
        file.truncate(size)
    return path


def hostile_history(directory: Path, kind: str) -> Path:
    """One of the ``HOSTILE_KINDS`` of history file, written under ``directory``."""
    if kind == "100000-levels-deep":
        return deep_history(directory / "deep.json", 100_000)
    return oversized(directory / "huge.json", MAX_HISTORY_BYTES + 1)
