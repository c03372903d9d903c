"""Features behind an extra: one clear line when the extra is not installed.

The core install is what a worker needs (temporalio, pydantic, structlog, and what
``sagas`` needs to start). PostgreSQL, encryption, YAML/JSON definitions, the
Temporal server binaries and the pytest plugin's requirements are extras; a feature
asked for without its extra raises `MissingExtraError` naming the extra to install,
instead of an ImportError traceback from deep inside the package.
"""

from __future__ import annotations

import importlib.util

from temporal_sagas._errors import SagaError

#: The distribution's name, as ``pip install`` wants it.
DISTRIBUTION = "temporal-sagas"


class MissingExtraError(SagaError, ImportError):
    """A feature needs an optional dependency that is not installed.

    It is an ``ImportError`` too, so code that probes for a feature with
    ``except ImportError`` keeps working.
    """


def missing(*modules: str) -> list[str]:
    """The top-level modules among ``modules`` that cannot be imported here."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


def require(feature: str, extra: str, *modules: str) -> None:
    """Raise `MissingExtraError` unless every module in ``modules`` can be imported.

    Args:
        feature: What the user asked for, as they would name it (``PostgresStore``,
            ``sagas dev``).
        extra: The extra that brings the modules (``postgres``).
        modules: Top-level module names the feature imports.

    Raises:
        MissingExtraError: One of the modules is not installed.
    """
    absent = missing(*modules)
    if absent:
        raise MissingExtraError(
            f"{feature} needs the [{extra}] extra ({', '.join(absent)} is not installed): "
            f"pip install '{DISTRIBUTION}[{extra}]'"
        )
