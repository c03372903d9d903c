"""`SagaApp`: what one worker runs, and how ``module:attribute`` finds it."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from temporal_sagas._targets import TargetError, resolve
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


def load_app(spec: str, *, app_dir: str | os.PathLike[str] | None = None) -> SagaApp:
    """Import ``module:attribute`` and return the `SagaApp` it names.

    The attribute may also be a function without arguments that returns one. The
    module is looked for in ``app_dir`` (the working directory by default) first.

    Raises:
        SettingsError: The spec is malformed, the module or attribute is missing,
            or the object is not a `SagaApp`.
    """
    try:
        target = resolve(spec, option="setting 'app'", app_dir=app_dir)
    except TargetError as err:
        raise SettingsError(str(err)) from None
    if callable(target) and not isinstance(target, SagaApp):
        target = target()
    if not isinstance(target, SagaApp):
        raise SettingsError(
            f"setting 'app': {spec} is a {type(target).__name__}, not a SagaApp "
            "(from temporal_sagas.workers import SagaApp)"
        )
    return target
