"""The saga-overhead benchmark's summary of its rounds."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from bench.saga_overhead import _noise_warning, _server_cpu, _summarise


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


def _baseline_rounds(*cpu_ms: float) -> list[dict[str, Any]]:
    rows = []
    for index, cpu in enumerate(cpu_ms):
        for variant in ("hand", "framework"):
            rows.append(
                {
                    "variant": variant,
                    "n": 1000,
                    "path": "compensating",
                    "round": index,
                    "sagas_per_s": 20.0,
                    "cpu_ms_per_saga": cpu,
                    "server_cpu_ms_per_saga": 50.0,
                    "history_events": 41,
                }
            )
    return rows


def test_the_summary_gives_how_much_the_baselines_cpu_per_saga_varied() -> None:
    case = _summarise(_baseline_rounds(30.0, 36.0, 33.0))["by_case"]["n=1000 compensating"]

    assert case["baseline_cpu_spread"] == pytest.approx(1.2)


def test_a_run_whose_baselines_varied_widely_is_flagged_as_unsteady() -> None:
    by_case = _summarise(_baseline_rounds(30.0, 40.0))["by_case"]

    warning = _noise_warning(by_case)

    assert warning is not None
    assert "33% more CPU per saga" in warning


def test_a_steady_run_is_not_flagged() -> None:
    by_case = _summarise(_baseline_rounds(30.0, 31.0, 32.0))["by_case"]

    assert _noise_warning(by_case) is None
