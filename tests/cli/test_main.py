"""The ``sagas`` group: which commands it has, how they are added, what --help loads."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import temporal_sagas.cli
from temporal_sagas.cli._main import cli

CLI_DIR = Path(temporal_sagas.cli.__file__).parent

COMMANDS = {
    "audit",
    "cancel",
    "demo",
    "dev",
    "export",
    "graph",
    "list",
    "outbox",
    "plan",
    "reconcile",
    "replay",
    "rescue",
    "resolve",
    "retry",
    "show",
    "skip",
    "start",
    "terminate",
    "validate",
    "worker",
}

#: What ``sagas --help`` must not load: the Temporal SDK and every extra.
HEAVY = ("temporalio", "psycopg", "cryptography", "yaml", "jsonschema", "jmespath", "rich")


def test_the_group_has_exactly_the_documented_commands() -> None:
    assert set(cli.commands) == COMMANDS


def test_no_command_module_imports_the_group() -> None:
    # Commands are plain click commands the group adds; a module importing the group
    # would register itself on import again, and bring back the import cycle.
    offenders = []
    for path in sorted(CLI_DIR.glob("_*.py")):
        if path.name in ("_main.py", "__init__.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "temporal_sagas.cli._main":
                offenders.append(path.name)
    assert offenders == []


def _modules_loaded_by(args: list[str]) -> list[str]:
    code = (
        "import json, sys\n"
        "from temporal_sagas.cli._main import cli\n"
        f"try:\n    cli.main(args={args!r}, prog_name='sagas', standalone_mode=False)\n"
        "except SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--help"], ["show", "--help"], ["start", "--help"]])
def test_help_loads_no_temporal_client_and_no_extra(args: list[str]) -> None:
    loaded = _modules_loaded_by(args)
    heavy = sorted({name.split(".")[0] for name in loaded} & set(HEAVY))
    assert heavy == []
