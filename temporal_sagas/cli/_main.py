"""The ``sagas`` command group.

Each command lives in its own module; heavy imports happen inside command bodies so
``sagas --help`` stays fast.
"""

from __future__ import annotations

import os
import sys

import click

from temporal_sagas._errors import SagaError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="temporal-sagas", prog_name="sagas")
def cli() -> None:
    """Sagas on Temporal: run, inspect and operate durable sagas."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``sagas`` console script.

    Exits through ``os._exit`` after flushing: processes that created a Temporal
    client can otherwise abort at interpreter shutdown (exit code 134).
    """
    from temporal_sagas.cli import _commands  # noqa: F401  (registers the commands)

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
