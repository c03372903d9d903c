"""Every entry of the failure-mode catalogue cites a test that exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "failure-modes.md"
#: A cited test: `tests/<path>.py::test_name` in a code span.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _entries() -> list[str]:
    """The catalogue's entries: the text under each third-level heading."""
    return re.split(r"^### ", CATALOGUE.read_text(), flags=re.MULTILINE)[1:]


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_catalogue_has_entries() -> None:
    assert len(_entries()) >= 12


def test_every_entry_cites_at_least_one_test() -> None:
    uncited = [e.splitlines()[0] for e in _entries() if not REFERENCE.search(e)]

    assert uncited == []


def test_every_cited_test_exists() -> None:
    missing = []
    for path, name in REFERENCE.findall(CATALOGUE.read_text()):
        file = ROOT / path
        if not file.is_file() or name not in _test_functions(file):
            missing.append(f"{path}::{name}")

    assert missing == []
