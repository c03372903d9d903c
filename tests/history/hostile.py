"""Hostile history files, generated (multi-megabyte files are never committed)."""

from __future__ import annotations

from pathlib import Path


def deep_history(path: Path, levels: int) -> Path:
    """A file whose ``events`` list holds ``levels`` nested lists."""
    path.write_text('{"events": ' + "[" * levels + "]" * levels + "}")
    return path


def oversized(path: Path, size: int) -> Path:
    """A sparse file of ``size`` bytes: it takes no disk, and no memory unless read."""
    with path.open("wb") as file:
        file.truncate(size)
    return path
