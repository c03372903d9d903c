"""`sagas worker` fails fast, naming the setting, when it cannot run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.workers.procs import REPO, free_port


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    # The timeout only stops a hung run from blocking the suite; nothing asserts on it.
    return subprocess.run(
        [sys.executable, "-m", "temporal_sagas.cli", "worker", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_missing_app_names_the_app_setting() -> None:
    result = _run()

    assert result.returncode != 0
    assert "setting 'app' is missing" in result.stderr
    assert "--app" in result.stderr


def test_app_that_is_not_a_saga_app_is_refused() -> None:
    result = _run("--app", "tests.workers.app:not_an_app")

    assert result.returncode != 0
    assert "not a SagaApp" in result.stderr


def test_unimportable_app_module_is_named() -> None:
    result = _run("--app", "no_such_module_here:app")

    assert result.returncode != 0
    assert "cannot import module 'no_such_module_here'" in result.stderr


def test_invalid_environment_value_names_the_setting_and_its_variables() -> None:
    result = _run("--app", "tests.workers.app:app", env={"SAGAS_MAX_CONCURRENT_ACTIVITIES": "0"})

    assert result.returncode != 0
    assert "setting 'max_concurrent_activities'" in result.stderr
    assert "SAGAS_MAX_CONCURRENT_ACTIVITIES" in result.stderr


def test_malformed_address_names_the_address_setting() -> None:
    result = _run("--app", "tests.workers.app:app", "--address", "localhost")

    assert result.returncode != 0
    assert "setting 'address'" in result.stderr
    assert "TEMPORAL_ADDRESS" in result.stderr


def test_unknown_key_in_settings_file_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "worker.toml"
    config.write_text('[sagas]\napp = "tests.workers.app:app"\ntask_queeu = "typo"\n')

    result = _run("--config", str(config))

    assert result.returncode != 0
    assert "setting 'task_queeu'" in result.stderr


def test_unreachable_server_is_reported_with_its_address() -> None:
    address = f"127.0.0.1:{free_port()}"

    result = _run(
        "--app", "tests.workers.app:app", "--address", address, "--connect-timeout-seconds", "2"
    )

    assert result.returncode != 0
    assert f"Temporal server at {address}" in result.stderr
    assert "Traceback" not in result.stderr


def test_silent_server_is_given_up_on_after_the_connect_timeout() -> None:
    import socket

    # A socket that listens but never answers: the connection hangs, the worker must not.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"127.0.0.1:{silent.getsockname()[1]}"

        result = _run(
            "--app", "tests.workers.app:app", "--address", address, "--connect-timeout-seconds", "1"
        )

    assert result.returncode != 0
    assert f"cannot reach the Temporal server at {address}" in result.stderr
    assert "within 1 s" in result.stderr
