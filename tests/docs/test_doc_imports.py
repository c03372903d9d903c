"""The code in the docs imports only the public API."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *ROOT.glob("examples/*/*.md")])
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _imports(page: Path) -> list[tuple[str, str]]:
    """(module, name) for every ``from temporal_sagas... import name`` in the page's code."""
    found = []
    for block in _BLOCK.findall(page.read_text()):
        lines = [line for line in block.splitlines() if line.startswith(("from ", "import "))]
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "temporal_sagas"
            ):
                found += [(str(node.module), alias.name) for alias in node.names]
    return found


def test_the_docs_show_imports_of_the_package() -> None:
    assert sum(len(_imports(page)) for page in PAGES) > 20


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_in_the_docs_imports_public_names_from_public_modules(page: Path) -> None:
    private = []
    for module, name in _imports(page):
        if any(part.startswith("_") for part in module.split(".")):
            private.append(f"{module}.{name}: a private module")
        elif name not in getattr(importlib.import_module(module), "__all__", ()):
            private.append(f"{module}.{name}: not in the module's __all__")

    assert private == []
