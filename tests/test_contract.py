"""One place for each contract: no module but ``_contract`` spells a wire name or format.

The scan reads the package's source with ``ast``: a string constant equal to a
contract value (an update or query name, an error type, a search attribute, the
header), or an f-string that assembles a key (``{a}/{b}/{c}``, ``.../compensate``,
``...#n``) outside ``_contract.py`` fails the test, naming the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import temporal_sagas
from temporal_sagas import _contract

PACKAGE = Path(temporal_sagas.__file__).parent

#: Every contract value that must not be spelled anywhere else.
VALUES = {
    _contract.QUERY_STATE,
    _contract.UPDATE_RETRY,
    _contract.UPDATE_SKIP,
    _contract.UPDATE_RESOLVE,
    _contract.STEP_HEADER,
    _contract.SAGA_NAME.name,
    _contract.SAGA_STATUS.name,
    _contract.SAGA_COMPENSATED,
    _contract.SAGA_COMPENSATION_FAILED,
    _contract.SAGA_ABORTED,
    _contract.SAGA_INPUT_ERROR,
    _contract.SAGA_DEFINITION_NOT_FOUND,
    _contract.SAGA_ACTIVITY_RESULT_ERROR,
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def _public_names(path: Path, tree: ast.AST) -> set[int]:
    """The package face's own name strings (``"saga_state"`` the function, ``"SagaStatus"``
    the enum), which only coincide with contract values."""
    if path != PACKAGE / "__init__.py":
        return set()
    return {id(n) for n in ast.walk(tree) if isinstance(n, ast.Constant)}


def _assembles_a_key(node: ast.JoinedStr) -> bool:
    parts = node.values
    literal = "".join(p.value for p in parts if isinstance(p, ast.Constant))
    if "/compensate" in literal:
        return True
    # "{x}#{n}" (a round suffix) and "{a}/{b}/{c}" (a step key or child id chain).
    joints = [
        p.value
        for i, p in enumerate(parts)
        if isinstance(p, ast.Constant)
        and 0 < i < len(parts) - 1
        and isinstance(parts[i - 1], ast.FormattedValue)
        and isinstance(parts[i + 1], ast.FormattedValue)
    ]
    return "#" in joints or joints.count("/") >= 2


def _spellings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree) | _public_names(path, tree)
    where = path.relative_to(path.parents[1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in docs and node.value in VALUES:
            found.append(f"{where}:{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.JoinedStr) and _assembles_a_key(node):
            found.append(f"{where}:{node.lineno}: assembles a key or activity id")
    return found


def test_no_module_outside_the_contract_spells_a_contract_value() -> None:
    modules = [p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "_contract.py"]
    assert [s for path in modules for s in _spellings(path)] == []


def test_the_scan_finds_a_spelled_update_name_and_hand_built_keys(tmp_path: Path) -> None:
    # The guard itself must be able to fail.
    planted = tmp_path / "pkg" / "_planted.py"
    planted.parent.mkdir()
    planted.write_text(
        'NAME = "saga_skip"\n'
        'def key(a, b, c):\n    return f"{a}/{b}/{c}"\n'
        'def undo(k):\n    return f"{k}/compensate"\n'
        'def again(k, n):\n    return f"{k}#{n}"\n',
        encoding="utf-8",
    )
    assert len(_spellings(planted)) == 4
