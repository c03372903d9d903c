"""Package faces that import a name's module only when the name is first used.

``import temporal_sagas`` must stay cheap: ``sagas --help`` imports the package, and
a worker that never touches definitions or PostgreSQL must not pay for (or need)
their dependencies. A face lists where each public name lives; `lazy_attributes`
gives it the module ``__getattr__`` and ``__dir__`` that import on first use (PEP 562)
and keep the value, so later lookups are plain attribute reads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str, namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a face whose names load on first use.

    Args:
        package: The face's module name, for error messages.
        namespace: The face's ``globals()``, where loaded values are kept.
        exports: Public name -> the module that defines it.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
