"""The documentation site builds in strict mode, offline, as `make docs` builds it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).with_name("mkdocs")


def test_docs_build_in_strict_mode_without_warnings(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr


def test_api_reference_is_generated_for_every_public_package(tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        timeout=240,
        check=True,
    )
    anchors = {
        "temporal_sagas": "temporal_sagas.Saga",
        "workflows": "temporal_sagas.workflows.Saga",
        "definitions": "temporal_sagas.definitions.DefinitionSaga",
        "postgres": "temporal_sagas.postgres.PostgresStore",
        "audit": "temporal_sagas.audit.AuditEvent",
        "activities": "temporal_sagas.activities.idempotent",
        "workers": "temporal_sagas.workers",
        "history": "temporal_sagas.history",
        "testing": "temporal_sagas.testing",
    }

    for page, anchor in anchors.items():
        html = (site / "api" / page / "index.html").read_text()
        assert f'id="{anchor}"' in html, f"api/{page} does not document {anchor}"
