"""The ``sagas`` command group: every command is added here, explicitly.

Each command lives in its own module as a plain click command that knows nothing of
the group; this module imports them and adds them, so a command missing from the
list below is missing from ``sagas --help`` for all to see, and no command module
imports the group. Command modules import only click and light package modules at
their top; Temporal, PostgreSQL and the rest are imported inside command bodies, so
``sagas --help`` and ``sagas COMMAND --help`` load no Temporal client code.
"""

from __future__ import annotations

import os
import sys

import click

from temporal_sagas._errors import SagaError
from temporal_sagas.cli import (
    _audit,
    _demo,
    _inspect,
    _operate,
    _outbox,
    _reconcile,
    _replay,
    _rescue,
    _start,
    _validate,
    _worker,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="temporal-sagas", prog_name="sagas")
def cli() -> None:
    """Sagas on Temporal: run, inspect and operate durable sagas."""


for _command in (
    _worker.worker,
    _worker.dev,
    _demo.demo,
    _start.start,
    _inspect.show,
    _inspect.list_,
    _inspect.plan,
    _inspect.export,
    _audit.audit,
    _operate.retry,
    _operate.skip,
    _operate.resolve,
    _operate.cancel,
    _rescue.terminate,
    _rescue.rescue,
    _reconcile.reconcile,
    _replay.replay,
    _validate.validate,
    _validate.graph,
    _outbox.outbox,
):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sagas`` console script.

    Exits through ``os._exit`` after flushing: processes that created a Temporal
    client can otherwise abort at interpreter shutdown (exit code 134).
    """
    code = 0
    try:
        cli.main(args=argv, prog_name="sagas", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = 130
    except click.ClickException as err:
        err.show()
        code = err.exit_code
    except SagaError as err:
        click.echo(f"error: {err}", err=True)
        code = 1
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
