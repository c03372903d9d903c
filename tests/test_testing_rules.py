"""The rule docs/testing.md states, kept: an engine test reads ground truth.

Every test in tests/workflows that runs a saga on a server must read something the
engine did not write about itself: the raw history, the activities' own journal, the
server's view of the workflow (describe, visibility), the captured log stream, a
replay, or the garbage collector. Its own report (`saga_state`, the result) is not
enough: it would agree with itself whatever the engine did.
"""

from __future__ import annotations

import ast
from pathlib import Path

WORKFLOW_TESTS = Path(__file__).parent / "workflows"

#: Names (functions, methods, attributes) that reach independent ground truth.
GROUND_TRUTH = {
    "JOURNAL",
    "entries",
    "done",
    "journal",
    "effects",
    "undone",
    "ran_as",
    "fetch_history",
    "fetch_history_events",
    "saga_state_from_history",
    "task_failure_message",
    "describe",
    "search_status",
    "list_workflows",
    "count_workflows",
    "Replayer",
    "replay_workflow",
    "audit_lines",
    "gc",
}

#: Tests whose ground truth is computed where the rule cannot see it, and why.
EXEMPT = {
    "test_saga_cost.py::test_open_saga_keeps_its_timeline_out_of_the_collectors_way": (
        "its probe workflow asks the garbage collector itself and returns what it found"
    ),
}

#: Fixtures that give a test a server to run sagas on.
SERVERS = {"saga_dev_env", "saga_env", "client"}


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def _offenders(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {
        n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    found = []
    for name, node in functions.items():
        if not name.startswith("test_") or not {a.arg for a in node.args.args} & SERVERS:
            continue
        used = _names(node)
        # One level of the module's own helpers: `_events(...)` reading a history counts.
        for helper in used & functions.keys():
            used |= _names(functions[helper])
        if not used & GROUND_TRUTH and f"{path.name}::{name}" not in EXEMPT:
            found.append(f"{path.name}::{name}")
    return found


def test_every_engine_test_reads_ground_truth() -> None:
    offenders = [o for path in sorted(WORKFLOW_TESTS.glob("test_*.py")) for o in _offenders(path)]
    assert offenders == []


def test_the_rule_catches_a_test_that_only_reads_the_engine_s_own_report(tmp_path: Path) -> None:
    planted = tmp_path / "test_planted.py"
    planted.write_text(
        "async def test_x(saga_dev_env, saga_task_queue):\n"
        "    state = await saga_state(handle)\n"
        "    assert state.status is SagaStatus.COMPLETED\n",
        encoding="utf-8",
    )
    assert _offenders(planted) == ["test_planted.py::test_x"]
