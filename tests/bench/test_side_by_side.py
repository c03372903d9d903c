"""The side-by-side benchmark: both variants at once, their rounds summarised."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from bench.side_by_side import main, run_round, summarise


def _row(
    variant: str,
    round_: int,
    closed: int,
    cpu: float,
    path: str = "compensating",
    cores_busy: float = 1.0,
) -> Any:
    return {
        "variant": variant,
        "path": path,
        "round": round_,
        "closed": closed,
        "sagas_per_s": closed / 120,
        "cores_busy": cores_busy,
        "cpu_ms_per_saga": cpu,
        "server_cpu_ms_per_saga": 50.0,
        "history_events": 41,
    }


def test_a_rounds_ratio_is_the_framework_sides_count_over_the_hand_written_sides() -> None:
    rows = [
        _row("hand", 0, 1000, 40.0),
        _row("framework", 0, 950, 42.0),
        _row("framework", 1, 990, 44.0),
        _row("hand", 1, 1000, 40.0),
        _row("hand", 2, 1000, 40.0),
        _row("framework", 2, 900, 40.0),
    ]

    case = summarise(rows)["by_path"]["compensating"]

    assert case["rounds"] == 3
    assert case["throughput_ratio"] == pytest.approx(0.95)
    assert case["throughput_ratio_range"] == pytest.approx([0.90, 0.99])
    assert case["cpu_ratio"] == pytest.approx(1.05)
    low, high = case["throughput_ratio_interval"]
    assert low == pytest.approx(0.90)
    assert high == pytest.approx(0.99)


def test_each_sides_count_is_taken_per_core_it_kept_busy() -> None:
    # The framework side got 4% more of the machine and closed as many sagas: per core,
    # it did 4% less.
    rows = [
        _row("hand", 0, 1000, 40.0, cores_busy=0.96),
        _row("framework", 0, 1000, 42.0, cores_busy=1.0),
    ]

    case = summarise(rows)["by_path"]["compensating"]

    assert case["throughput_ratio"] == pytest.approx(0.96)
    assert case["closed_ratio"] == pytest.approx(1.0)


def test_the_overall_ratio_weighs_every_round_by_its_sagas() -> None:
    rows = [
        _row("hand", 0, 1000, 40.0),
        _row("framework", 0, 900, 40.0),
        _row("hand", 0, 3000, 20.0, path="happy"),
        _row("framework", 0, 3000, 20.0, path="happy"),
    ]

    assert summarise(rows)["throughput_ratio"] == pytest.approx((900 + 3000) / (1000 + 3000))


def test_paths_are_summarised_apart() -> None:
    rows = [
        _row("hand", 0, 1000, 40.0),
        _row("framework", 0, 900, 40.0),
        _row("hand", 0, 2000, 20.0, path="happy"),
        _row("framework", 0, 2000, 20.0, path="happy"),
    ]

    by_path = summarise(rows)["by_path"]

    assert by_path["compensating"]["throughput_ratio"] == pytest.approx(0.9)
    assert by_path["happy"]["throughput_ratio"] == pytest.approx(1.0)


@pytest.mark.bench
def test_both_sides_run_at_once_and_count_the_sagas_that_closed_in_the_window() -> None:
    sides = run_round("happy", in_flight=4, warmup=3.0, window=4.0, flags=[], first="framework")

    assert {row["workflow"] for row in sides.values()} == {"HandWrittenSaga", "FrameworkSaga"}
    for row in sides.values():
        assert row["closed"] > 0
        assert row["history_events"] == 23
        assert row["cores_busy"] > 0


@pytest.mark.bench
def test_a_run_writes_its_rounds_and_ends_on_the_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(
        aa=True, headers_only=False, passthrough=False, paths="compensating", rounds=1,
        in_flight=3,
        warmup=3.0, window=4.0,
    )  # fmt: skip

    out = main(args, results=tmp_path)

    written = json.loads(out.read_text())
    assert written["candidate"] == "HandWrittenSagaAgain"
    assert [row["workflow"] for row in written["rows"]] == [
        "HandWrittenSaga",
        "HandWrittenSagaAgain",
    ]
    assert written["rows"][0]["history_events"] == 41
    assert capsys.readouterr().out.splitlines()[-1].startswith("ratio=")
