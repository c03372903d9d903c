"""What importing the package costs: a guard so that a heavy import cannot creep back.

Each check runs in a fresh interpreter and reads ``sys.modules``: a deterministic
measure, unlike a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Optional dependencies (extras) and the CLI's own: never loaded by the core imports.
EXTRAS = (
    "psycopg",
    "psycopg_pool",
    "cryptography",
    "yaml",
    "jsonschema",
    "jmespath",
    "click",
    "hypothesis",
)

#: The third-party packages a worker importing the public API may load: the core
#: dependencies and what they import themselves (structlog loads rich, and rich its
#: helpers, when rich is installed).
CORE = {
    "annotated_types",
    "attr",
    "colorama",
    "dotenv",
    "google",
    "nexusrpc",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "pygments",
    "rich",
    "structlog",
    "temporal_sagas",
    "temporalio",
    "typing_extensions",
    "typing_inspection",
}


def _loaded_by(code: str) -> set[str]:
    """The top-level third-party packages ``code`` leaves in ``sys.modules``."""
    probe = (
        f"{code}\nimport json, sys\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} "
        "- set(sys.stdlib_module_names))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    found = set(json.loads(done.stdout.strip().splitlines()[-1]))
    # The interpreter's own start-up modules, not the package's doing.
    return {name for name in found if not name.startswith("_")}


def test_importing_the_package_loads_no_dependency_at_all() -> None:
    assert _loaded_by("import temporal_sagas") == {"temporal_sagas"}


@pytest.mark.parametrize(
    "code",
    [
        "from temporal_sagas import Saga, SagaPlugin, start_saga, idempotent",
        "from temporal_sagas import saga_workflow, step, SagaApp, EncryptionCodec",
        "import temporal_sagas.workers",
        "import temporal_sagas.activities",
        "import temporal_sagas.audit",
        "import temporal_sagas.testing",
    ],
)
def test_the_public_api_loads_only_the_core_dependencies(code: str) -> None:
    loaded = _loaded_by(code)
    assert sorted(loaded & set(EXTRAS)) == []
    assert sorted(loaded - CORE) == []


def test_the_history_package_stays_pure() -> None:
    loaded = _loaded_by("import temporal_sagas.history")
    assert sorted(loaded & set(EXTRAS)) == []
    assert sorted(loaded - CORE) == []
