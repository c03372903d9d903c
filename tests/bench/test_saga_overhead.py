"""The saga-overhead benchmark's summary of its rounds."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from bench.saga_overhead import _server_cpu, _summarise


def _rows(hand_server_ms: float, framework_server_ms: float) -> list[dict[str, Any]]:
    return [
        {
            "variant": variant,
            "n": 1000,
            "path": "compensating",
            "round": 0,
            "sagas_per_s": per_s,
            "cpu_ms_per_saga": 20.0,
            "server_cpu_ms_per_saga": server_ms,
            "history_events": 41,
        }
        for variant, per_s, server_ms in (
            ("hand", 40.0, hand_server_ms),
            ("framework", 38.0, framework_server_ms),
        )
    ]


def test_the_summary_gives_the_servers_cpu_ratio_beside_the_workers() -> None:
    case = _summarise(_rows(30.0, 33.0))["by_case"]["n=1000 compensating"]

    assert case["server_cpu_ratio"] == pytest.approx(1.1)
    assert case["throughput_ratio"] == pytest.approx(0.95)


def test_without_a_reading_of_the_servers_cpu_the_summary_has_no_ratio_for_it() -> None:
    case = _summarise(_rows(0.0, 0.0))["by_case"]["n=1000 compensating"]

    assert case["server_cpu_ratio"] is None


async def test_the_servers_cpu_is_read_from_the_dev_server_this_process_started(
    saga_dev_env: WorkflowEnvironment,
) -> None:
    # The dev server has started up and answered the fixture's client: it used some CPU.
    assert _server_cpu() > 0
