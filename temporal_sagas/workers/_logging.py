"""One log stream for the worker process: structlog events and stdlib records alike.

The engine logs saga transitions with structlog; the SDK and its Rust core log with
the standard library (the core through `core_log_forwarding`). All of them are
rendered by the same structlog processors, as JSON lines or for a terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import structlog
from temporalio.runtime import LogForwardingConfig, LoggingConfig, TelemetryFilter

#: The stdlib logger the SDK's Rust core logs are forwarded to.
CORE_LOGGER = "temporalio.core"

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING}
_LEVELS["ERROR"] = logging.ERROR


def resolve_format(log_format: str, stream: TextIO) -> str:
    """``json`` or ``console``: ``auto`` picks the console renderer on a terminal only."""
    if log_format != "auto":
        return log_format
    return "console" if stream.isatty() else "json"


def configure_logging(
    log_format: str = "auto",
    level: str = "INFO",
    *,
    stream: TextIO | None = None,
    processors: Sequence[Any] | None = None,
) -> None:
    """Render structlog and stdlib logging as one stream on ``stream`` (standard error).

    Args:
        log_format: ``json`` (one JSON object per line), ``console``, or ``auto``
            (console when ``stream`` is a terminal, else JSON).
        level: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR``.
        stream: Where to write; standard error by default.
        processors: Processors that run first on every event. The default is
            ``audit_processors()``: drop what workflow code logs while replaying,
            then redact secrets. Pass ``audit_processors(sink, ...)`` to also
            write audit events to sinks.
    """
    from temporal_sagas.audit._processors import audit_processors

    out = stream if stream is not None else sys.stderr
    numeric = _LEVELS.get(level.upper(), logging.INFO)
    first = list(audit_processors() if processors is None else processors)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        *first,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if resolve_format(log_format, out) == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)


def core_log_forwarding(level: str = "INFO") -> LoggingConfig:
    """A `LoggingConfig` that forwards the SDK core's logs into `CORE_LOGGER`.

    The core logs warnings and errors (at ``DEBUG``, everything it logs at info too);
    they then go through `configure_logging`'s handler like any other record.
    """
    core_level = "INFO" if level.upper() == "DEBUG" else "WARN"
    return LoggingConfig(
        filter=TelemetryFilter(core_level=core_level, other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger(CORE_LOGGER)),
    )
