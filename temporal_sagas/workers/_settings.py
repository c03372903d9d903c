"""`WorkerSettings`: where a saga worker connects, what it polls, how it logs and reports.

Settings come from, highest precedence first: command-line flags (or keyword
arguments), environment variables, an optional TOML, YAML or JSON file, then the
defaults. Every mistake is reported at once, naming the setting, where it can be
set, and what to do.
"""

from __future__ import annotations

import json
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from temporal_sagas._errors import SagaError
from temporal_sagas._operators import OperatorKeys
from temporal_sagas.workers._connect import ConnectOptions

LogFormat = Literal["json", "console", "auto"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")

#: The values read from a settings file, handed to the settings source below.
_file_values: ContextVar[dict[str, Any] | None] = ContextVar("_file_values", default=None)


class SettingsError(SagaError):
    """The worker's settings are missing, malformed or contradictory."""


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class WorkerSettings(BaseSettings):
    """Everything a saga worker process needs to know.

    Each field can be given as a keyword argument (the CLI flags), as an
    environment variable (``SAGAS_<NAME>``, and for the connection the standard
    ``TEMPORAL_*`` names), or in a settings file (``WorkerSettings.load``).

    Attributes:
        app: The saga app to run, as ``module:attribute`` (a `SagaApp`).
        app_dir: The directory ``app`` is imported from first (the working directory
            when unset), as uvicorn's ``--app-dir``.
        address: The Temporal frontend, ``host:port``.
        namespace: The Temporal namespace.
        tls_ca_path: PEM file of the CA that signed the server's certificate.
        tls_cert_path: PEM client certificate (mTLS); needs ``tls_key_path``.
        tls_key_path: PEM private key of the client certificate.
        api_key: API key (Temporal Cloud); turns TLS on.
        task_queue: Overrides the app's task queue.
        max_concurrent_activities: Activity slots of this worker.
        max_concurrent_workflow_tasks: Workflow task slots of this worker.
        max_concurrent_local_activities: Local activity slots of this worker.
        graceful_shutdown_seconds: How long running activities may take to finish
            after a stop signal before they are cancelled.
        connect_timeout_seconds: How long to try reaching the server before giving up.
        log_format: ``json``, ``console`` or ``auto`` (console on a terminal, else JSON).
        log_level: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR``.
        metrics_address: ``host:port`` to serve Prometheus metrics on (off when unset).
        health_address: ``host:port`` to serve ``/healthz`` and ``/readyz`` on (off when unset).
        audit_log: A JSON-lines file the worker appends saga audit events to, each
            event id once (``SAGAS_AUDIT_LOG``; off when unset).
        sweep_interval_seconds: Host a `SagaSweeper`: every this many seconds, rescue
            terminated or timed-out sagas with compensations due, and count stuck
            sagas into the ``temporal_sagas_stuck`` gauge (off when unset).
        stuck_after_seconds: How long a saga may stay RUNNING, COMPENSATING or
            parked before the sweeper counts it as stuck.
        operator_keys: A JSON or TOML file of the operators' public keys
            (``SAGAS_OPERATOR_KEYS``): the worker's sagas then accept only signed
            operator actions. Unset: development mode, every operator action is
            accepted and recorded as unauthenticated.
    """

    model_config = SettingsConfigDict(
        env_prefix="SAGAS_",
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
    )

    app: str | None = Field(default=None, validation_alias=_env("SAGAS_APP"))
    app_dir: Path | None = Field(default=None, validation_alias=_env("SAGAS_APP_DIR"))
    address: str = Field(
        default="localhost:7233", validation_alias=_env("SAGAS_ADDRESS", "TEMPORAL_ADDRESS")
    )
    namespace: str = Field(
        default="default",
        min_length=1,
        validation_alias=_env("SAGAS_NAMESPACE", "TEMPORAL_NAMESPACE"),
    )
    tls_ca_path: Path | None = Field(
        default=None,
        validation_alias=_env("SAGAS_TLS_CA_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
    )
    tls_cert_path: Path | None = Field(
        default=None,
        validation_alias=_env("SAGAS_TLS_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_PATH"),
    )
    tls_key_path: Path | None = Field(
        default=None,
        validation_alias=_env("SAGAS_TLS_KEY_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH"),
    )
    api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("SAGAS_API_KEY", "TEMPORAL_API_KEY")
    )
    task_queue: str | None = Field(
        default=None, min_length=1, validation_alias=_env("SAGAS_TASK_QUEUE")
    )
    max_concurrent_activities: int | None = Field(
        default=None, gt=0, validation_alias=_env("SAGAS_MAX_CONCURRENT_ACTIVITIES")
    )
    max_concurrent_workflow_tasks: int | None = Field(
        default=None, gt=1, validation_alias=_env("SAGAS_MAX_CONCURRENT_WORKFLOW_TASKS")
    )
    max_concurrent_local_activities: int | None = Field(
        default=None, gt=0, validation_alias=_env("SAGAS_MAX_CONCURRENT_LOCAL_ACTIVITIES")
    )
    graceful_shutdown_seconds: float = Field(
        default=30.0, ge=0, validation_alias=_env("SAGAS_GRACEFUL_SHUTDOWN_SECONDS")
    )
    connect_timeout_seconds: float = Field(
        default=5.0, gt=0, validation_alias=_env("SAGAS_CONNECT_TIMEOUT_SECONDS")
    )
    log_format: LogFormat = Field(default="auto", validation_alias=_env("SAGAS_LOG_FORMAT"))
    log_level: LogLevel = Field(default="INFO", validation_alias=_env("SAGAS_LOG_LEVEL"))
    metrics_address: str | None = Field(
        default=None, validation_alias=_env("SAGAS_METRICS_ADDRESS")
    )
    health_address: str | None = Field(default=None, validation_alias=_env("SAGAS_HEALTH_ADDRESS"))
    audit_log: Path | None = Field(default=None, validation_alias=_env("SAGAS_AUDIT_LOG"))
    sweep_interval_seconds: float | None = Field(
        default=None, gt=0, validation_alias=_env("SAGAS_SWEEP_INTERVAL_SECONDS")
    )
    stuck_after_seconds: float = Field(
        default=3600.0, gt=0, validation_alias=_env("SAGAS_STUCK_AFTER_SECONDS")
    )
    operator_keys: Path | None = Field(default=None, validation_alias=_env("SAGAS_OPERATOR_KEYS"))

    @field_validator("address", "metrics_address", "health_address")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _HOST_PORT.match(value)
        if match is None or not 0 < int(match.group(2)) < 65536:
            raise ValueError(f"{value!r} is not host:port (for example 127.0.0.1:9464)")
        return value

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _case_insensitive(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return (
            value.upper()
            if value.lower() in {"debug", "info", "warning", "error"}
            else (value.lower())
        )

    @field_validator("tls_ca_path", "tls_cert_path", "tls_key_path", "operator_keys")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags, then the environment, then the settings file (no dotenv, no secrets dir)."""
        values = _file_values.get() or {}
        return (init_settings, env_settings, InitSettingsSource(settings_cls, values))

    @classmethod
    def load(cls, config_file: Path | str | None = None, **flags: Any) -> WorkerSettings:
        """Read the settings, failing with one message that names every bad setting.

        Args:
            config_file: A ``.toml``, ``.yaml``/``.yml`` or ``.json`` file of settings
                (field names as keys; in TOML optionally under ``[sagas]``).
            **flags: Settings given explicitly; ``None`` values are ignored.

        Raises:
            SettingsError: A setting is missing or invalid, or the file is unreadable.
        """
        values = read_settings_file(Path(config_file)) if config_file else {}
        token = _file_values.set(values)
        try:
            return cls(**{k: v for k, v in flags.items() if v is not None})
        except ValidationError as err:
            raise SettingsError(_describe(err, config_file)) from None
        finally:
            _file_values.reset(token)

    def connect_options(self) -> ConnectOptions:
        """Where and how to reach Temporal, for the package's one connect path."""
        return ConnectOptions(
            address=self.address,
            namespace=self.namespace,
            tls_ca_path=self.tls_ca_path,
            tls_cert_path=self.tls_cert_path,
            tls_key_path=self.tls_key_path,
            api_key=self.api_key.get_secret_value() if self.api_key else None,
            timeout_seconds=self.connect_timeout_seconds,
        )

    def load_operator_keys(self) -> OperatorKeys | None:
        """The operator keys file's keys, or None (development mode) when unset.

        Raises:
            SettingsError: The file is malformed (the message names it).
        """
        if self.operator_keys is None:
            return None
        from temporal_sagas._operators import OperatorKeyError

        try:
            return OperatorKeys.load(self.operator_keys)
        except OperatorKeyError as err:
            raise SettingsError(
                f"setting 'operator_keys': {err} (--operator-keys / SAGAS_OPERATOR_KEYS)"
            ) from None

    def require_app(self) -> str:
        """The ``app`` setting, or a `SettingsError` that says how to give it."""
        if not self.app:
            raise SettingsError(
                "setting 'app' is missing: pass --app module:attribute (or set SAGAS_APP), "
                "naming the SagaApp that lists your sagas and activities"
            )
        return self.app


def read_settings_file(path: Path) -> dict[str, Any]:
    """Read a TOML, YAML or JSON settings file into a flat dict of settings.

    Raises:
        SettingsError: The file is missing, unparsable or not a table of settings.
    """
    if not path.is_file():
        raise SettingsError(f"settings file {path} does not exist: check --config / SAGAS_CONFIG")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
            data = data.get("sagas", data) if isinstance(data, dict) else data
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = _load_yaml(text, path)
        else:
            raise SettingsError(
                f"settings file {path} has an unknown type {suffix!r}: use .toml, .yaml or .json"
            )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SettingsError(f"settings file {path} is not valid {suffix[1:]}: {err}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {path} must hold a table of settings at its top")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _load_yaml(text: str, path: Path) -> Any:
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise SettingsError(
            f"settings file {path} is YAML but PyYAML is not installed: "
            "`pip install pyyaml`, or write the settings as TOML or JSON"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SettingsError(f"settings file {path} is not valid YAML: {err}") from None


def _describe(err: ValidationError, config_file: Path | str | None) -> str:
    lines = ["invalid worker settings:"]
    for problem in err.errors(include_url=False):
        field = _field_of(str(problem["loc"][0]) if problem["loc"] else "?")
        lines.append(f"  - setting '{field}': {problem['msg']} ({_where(field)})")
    if config_file:
        lines.append(f"  (settings file: {config_file})")
    return "\n".join(lines)


def _field_of(name: str) -> str:
    """The field a location names: validation errors from the environment carry the alias."""
    for field, info in WorkerSettings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices) and name in alias.choices:
            return field
    return name


def _where(field: str) -> str:
    info = WorkerSettings.model_fields.get(field)
    if info is None:
        return f"unknown setting; the settings are: {', '.join(WorkerSettings.model_fields)}"
    flag = "--" + field.replace("_", "-")
    alias = info.validation_alias
    names = (
        [c for c in alias.choices if isinstance(c, str)] if isinstance(alias, AliasChoices) else []
    )
    return f"set it with {flag} or {' / '.join(names)}"
