"""Imports every command module so that each registers itself on the ``sagas`` group."""

from temporal_sagas.cli import (  # noqa: F401
    _audit,
    _demo,
    _inspect,
    _operate,
    _outbox,
    _replay,
    _validate,
    _worker,
)
