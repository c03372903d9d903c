"""`SagaApp`: what one worker runs, and how ``module:attribute`` finds it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from temporal_sagas.workers._settings import SettingsError


@dataclass(frozen=True)
class SagaApp:
    """The sagas, declarative definitions and activities a worker serves on one task queue.

    Declare one in a module of your app and point ``sagas worker --app module:name``
    (or `run_worker_in_background`) at it::

        app = SagaApp(task_queue="orders", sagas=[PlaceOrder], activities=[charge, refund])

    Attributes:
        task_queue: The task queue the worker polls (``--task-queue`` overrides it).
        sagas: Workflow classes (``@workflow.defn``) whose code runs sagas.
        activities: Activity functions: steps and compensations.
        definitions: Declarative saga definitions (``SagaDefinition`` objects or
            YAML/JSON file paths). The worker registers them at start-up, checks
            their activity names against ``activities``, and runs them with the
            generic ``DefinitionSaga`` workflow.
        passthrough_modules: Modules to pass through the workflow sandbox (your
            model modules), in addition to the framework's own.
        worker_options: Extra keyword arguments for ``temporalio.worker.Worker``.
    """

    task_queue: str
    sagas: Sequence[type] = ()
    activities: Sequence[Callable[..., Any]] = ()
    definitions: Sequence[Any] = ()
    passthrough_modules: Sequence[str] = ()
    worker_options: dict[str, Any] = field(default_factory=dict)

    @property
    def workflows(self) -> list[type]:
        """The saga workflow classes (what ``sagas replay -w module:app`` replays against)."""
        return list(self.sagas)

    def __post_init__(self) -> None:
        if not self.task_queue:
            raise SettingsError("SagaApp needs a task_queue: the queue its worker polls")
        if not (self.sagas or self.activities or self.definitions):
            raise SettingsError(
                f"SagaApp for task queue {self.task_queue!r} lists no sagas, definitions or "
                "activities: a worker for it would have nothing to run"
            )


def load_app(spec: str) -> SagaApp:
    """Import ``module:attribute`` and return the `SagaApp` it names.

    The attribute may also be a function without arguments that returns one.

    Raises:
        SettingsError: The spec is malformed, the module or attribute is missing,
            or the object is not a `SagaApp`.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise SettingsError(
            f"setting 'app' is {spec!r}, not module:attribute (for example myapp.sagas:app)"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise SettingsError(
            f"setting 'app': cannot import module {module_name!r} ({err}); run from the "
            "directory that contains it or install your package into this environment"
        ) from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise SettingsError(
                f"setting 'app': module {module_name!r} has no attribute {attribute!r}"
            )
        target = getattr(target, part)
    if callable(target) and not isinstance(target, SagaApp):
        target = target()
    if not isinstance(target, SagaApp):
        raise SettingsError(
            f"setting 'app': {spec} is a {type(target).__name__}, not a SagaApp "
            "(from temporal_sagas.workers import SagaApp)"
        )
    return target
