"""Imports every command module so that each registers itself on the ``sagas`` group."""

from temporal_sagas.cli import _demo  # noqa: F401
