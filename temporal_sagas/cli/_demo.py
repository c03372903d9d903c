"""``sagas demo``: placeholder replaced by the demo command."""

from __future__ import annotations

import click

from temporal_sagas.cli._main import cli


@cli.command()
def demo() -> None:
    """Run a saga that completes and one that compensates on the embedded dev server."""
    raise click.ClickException("the demo is being written")
