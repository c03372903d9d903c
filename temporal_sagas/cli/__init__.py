"""The ``sagas`` command line."""

from temporal_sagas.cli._main import cli, main

__all__ = ["cli", "main"]
