"""``MODULE:ATTR`` references: the one resolver behind every option that takes one.

``sagas worker --app``, ``sagas replay --workflows``, ``sagas validate --activities``,
``sagas graph`` and the parallel replayer all name Python objects this way. As
uvicorn, celery and gunicorn do for their ``--app``, the working directory (or the
``--app-dir`` given) is put first on ``sys.path``, so a project's own modules import
without setting ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from temporal_sagas._errors import SagaInputError


class TargetError(SagaInputError):
    """A ``MODULE:ATTR`` reference is malformed, or names nothing importable."""


def add_app_dir(app_dir: str | os.PathLike[str] | None = None) -> str:
    """Put ``app_dir`` (the working directory by default) first on ``sys.path``.

    Returns:
        The directory, as it was added.
    """
    directory = str(Path(app_dir).resolve()) if app_dir is not None else os.getcwd()
    if directory in sys.path:
        sys.path.remove(directory)
    sys.path.insert(0, directory)
    return directory


def resolve(reference: str, *, option: str, app_dir: str | os.PathLike[str] | None = None) -> Any:
    """Import ``module:attribute`` (the attribute may be dotted) and return the object.

    Args:
        reference: ``package.module:attribute``.
        option: The option or setting the reference came from, for error messages.
        app_dir: The directory to import from, before the installed packages; the
            working directory by default.

    Raises:
        TargetError: The reference is not ``MODULE:ATTR``, the module cannot be
            imported, or it has no such attribute.
    """
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise TargetError(
            f"{option} is {reference!r}, not MODULE:ATTR (for example myapp.sagas:app)"
        )
    directory = add_app_dir(app_dir)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise TargetError(
            f"{option}: cannot import module {module_name!r} ({err}); looked in {directory} "
            "first: run from the directory that contains it, give --app-dir, or install "
            "your package into this environment"
        ) from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise TargetError(f"{option}: module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    return target
