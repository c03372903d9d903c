"""`WorkerSettings`: flags over environment over file, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from temporal_sagas.workers import SettingsError, WorkerSettings


def test_temporal_environment_variables_set_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "payments")

    settings = WorkerSettings.load()

    assert (settings.address, settings.namespace) == ("temporal.internal:7233", "payments")


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGAS_TASK_QUEUE", "from-env")

    assert WorkerSettings.load(task_queue="from-flag").task_queue == "from-flag"


def test_environment_overrides_the_settings_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "worker.json"
    config.write_text('{"task_queue": "from-file", "log_level": "warning"}')
    monkeypatch.setenv("SAGAS_TASK_QUEUE", "from-env")

    settings = WorkerSettings.load(config)

    assert (settings.task_queue, settings.log_level) == ("from-env", "WARNING")


def test_toml_file_may_keep_settings_under_a_sagas_table(tmp_path: Path) -> None:
    config = tmp_path / "worker.toml"
    config.write_text("[sagas]\nmax-concurrent-activities = 7\n")

    assert WorkerSettings.load(config).max_concurrent_activities == 7


def test_every_bad_setting_is_named_in_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGAS_LOG_FORMAT", "xml")

    with pytest.raises(SettingsError) as raised:
        WorkerSettings.load(metrics_address="9464", graceful_shutdown_seconds=-1)

    message = str(raised.value)
    assert "setting 'log_format'" in message
    assert "setting 'metrics_address'" in message
    assert "setting 'graceful_shutdown_seconds'" in message


def test_missing_tls_file_names_the_setting_and_its_flag(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"setting 'tls_ca_path'.*--tls-ca-path"):
        WorkerSettings.load(tls_ca_path=str(tmp_path / "missing.pem"))


def test_missing_settings_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        WorkerSettings.load(tmp_path / "nope.toml")


def test_api_key_is_not_shown_in_the_settings_repr() -> None:
    settings = WorkerSettings.load(api_key="very-secret")

    assert "very-secret" not in repr(settings)


def test_operator_keys_come_from_the_file_sagas_operator_keys_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from temporal_sagas._operators import generate_key_pair

    path = tmp_path / "operators.toml"
    path.write_text(f'[operators.ana]\npublic_key = "{generate_key_pair()[1]}"\n')
    monkeypatch.setenv("SAGAS_OPERATOR_KEYS", str(path))

    keys = WorkerSettings.load().load_operator_keys()

    assert keys is not None
    assert list(keys.keys) == ["ana"]


def test_a_malformed_operator_keys_file_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "operators.json"
    path.write_text('{"operators": {"ana": {"public_key": "bm90IGEga2V5"}}}')

    with pytest.raises(SettingsError, match=r"setting 'operator_keys'.*ana"):
        WorkerSettings.load(operator_keys=path).load_operator_keys()
