"""`configure_logging`: structlog and stdlib records on one JSON stream."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from temporal_sagas.workers import configure_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    yield out
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def test_structlog_events_are_json_lines(stream: io.StringIO) -> None:
    configure_logging("json", "INFO", stream=stream)

    structlog.get_logger("temporal_sagas.saga").info("saga_started", saga="trip")

    line = json.loads(stream.getvalue().splitlines()[-1])
    assert (line["event"], line["saga"], line["level"]) == ("saga_started", "trip", "info")


def test_stdlib_records_share_the_json_stream(stream: io.StringIO) -> None:
    configure_logging("json", "INFO", stream=stream)

    logging.getLogger("temporalio.core").warning("core says hi")

    line = json.loads(stream.getvalue().splitlines()[-1])
    assert (line["event"], line["logger"]) == ("core says hi", "temporalio.core")


def test_level_filters_structlog_events(stream: io.StringIO) -> None:
    configure_logging("json", "WARNING", stream=stream)

    structlog.get_logger().info("quiet")

    assert stream.getvalue() == ""


def test_auto_format_is_json_when_not_a_terminal(stream: io.StringIO) -> None:
    configure_logging("auto", "INFO", stream=stream)

    structlog.get_logger().info("hello")

    assert json.loads(stream.getvalue())["event"] == "hello"
