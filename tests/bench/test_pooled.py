"""Pooling the rounds of several benchmark runs."""

from __future__ import annotations

from typing import Any

import pytest

from bench.pooled import comparison, pool


def _row(variant: str, round_: int, per_s: float, cpu: float, path: str = "compensating") -> Any:
    return {
        "variant": variant,
        "n": 1000,
        "path": path,
        "round": round_,
        "sagas_per_s": per_s,
        "cpu_ms_per_saga": cpu,
    }


def _run(rows: list[Any], *, lean: bool = True, candidate: str = "FrameworkSaga") -> Any:
    return {
        "baseline": "HandWrittenSaga",
        "candidate": candidate,
        "framework_lean": lean,
        "rows": rows,
    }


def test_each_round_compares_the_framework_with_the_hand_written_batch_of_that_round() -> None:
    run = _run(
        [
            _row("hand", 0, 40.0, 20.0),
            _row("framework", 0, 30.0, 30.0),
            _row("framework", 1, 50.0, 10.0),
            _row("hand", 1, 50.0, 20.0),
        ]
    )

    [pooled] = pool([run])

    assert pooled.rounds == 2
    assert pooled.throughput == pytest.approx((0.75 + 1.0) / 2)
    assert pooled.cpu == pytest.approx((1.5 + 0.5) / 2)


def test_rounds_of_several_runs_are_pooled_per_comparison_and_case() -> None:
    lean = [_run([_row("hand", r, 40.0, 20.0), _row("framework", r, 38.0, 21.0)]) for r in (0, 1)]
    aa = _run(
        [_row("hand", 0, 40.0, 20.0), _row("framework", 0, 40.0, 20.0)],
        lean=False,
        candidate="HandWrittenSagaAgain",
    )

    pooled = {p.comparison: p for p in pool([*lean, aa])}

    assert pooled["lean engine vs hand-written"].rounds == 2
    assert pooled["A/A (hand-written against itself)"].throughput == pytest.approx(1.0)


def test_a_round_missing_one_variant_is_left_out() -> None:
    run = _run(
        [
            _row("hand", 0, 40.0, 20.0),
            _row("framework", 0, 40.0, 20.0),
            _row("hand", 1, 10.0, 20.0),
        ]
    )

    [pooled] = pool([run])

    assert pooled.rounds == 1
    assert pooled.throughput == pytest.approx(1.0)


def test_the_interval_brackets_the_median_and_is_the_same_on_every_call() -> None:
    ratios = [0.84, 0.9, 0.93, 0.95, 0.96, 0.97, 1.0, 1.05, 1.2]
    run = _run(
        [
            row
            for r, ratio in enumerate(ratios)
            for row in (_row("hand", r, 40.0, 20.0), _row("framework", r, 40.0 * ratio, 20.0))
        ]
    )

    [first] = pool([run])
    [again] = pool([run])

    low, high = first.throughput_interval
    assert low < first.throughput < high
    assert first.throughput == pytest.approx(0.96)
    assert first.throughput_interval == again.throughput_interval
    assert first.cpu_interval == pytest.approx((1.0, 1.0))


@pytest.mark.parametrize(
    ("baseline", "candidate", "lean", "expected"),
    [
        ("HandWrittenSaga", "HandWrittenSagaAgain", False, "A/A (hand-written against itself)"),
        ("HandWrittenAuditedSaga", "FrameworkSaga", False, "default engine vs audited"),
        ("HandWrittenSaga", "FrameworkSaga", True, "lean engine vs hand-written"),
        ("HandWrittenSaga", "FrameworkSaga", False, "default engine vs hand-written"),
    ],
)
def test_the_comparison_is_read_from_the_runs_metadata(
    baseline: str, candidate: str, lean: bool, expected: str
) -> None:
    run = {"baseline": baseline, "candidate": candidate, "framework_lean": lean, "rows": []}

    assert comparison(run).startswith(expected)


def test_runs_with_the_workflow_module_passed_through_are_pooled_apart() -> None:
    rows = [_row("hand", 0, 40.0, 20.0), _row("framework", 0, 38.0, 21.0)]
    through = {**_run(rows), "workflow_module": "passed through"}
    again = {**_run(rows), "workflow_module": "imported again per saga"}

    names = {p.comparison for p in pool([through, again, _run(rows)])}

    assert names == {
        "lean engine vs hand-written, workflow module passed through",
        "lean engine vs hand-written",
    }


def test_the_pooled_figures_name_the_code_each_run_measured() -> None:
    rows = [_row("hand", 0, 40.0, 20.0), _row("framework", 0, 38.0, 21.0)]
    runs = [
        {**_run(rows), "commit": "b901d3a" + "0" * 33, "uncommitted_changes": False},
        {**_run(rows), "commit": "425a88b" + "0" * 33, "uncommitted_changes": True},
        {**_run(rows), "commit": "b901d3a" + "0" * 33, "uncommitted_changes": False},
        _run(rows),
    ]

    [pooled] = pool(runs)

    assert pooled.code == ("b901d3a", "425a88b+changes", "unrecorded")


def test_side_by_side_runs_are_pooled_apart_with_their_sagas_in_flight_as_the_case() -> None:
    rows = [_row("hand", 0, 40.0, 20.0), _row("framework", 0, 38.0, 21.0)]
    for row, cores_busy in zip(rows, (0.95, 1.0), strict=True):
        del row["n"]  # a side-by-side row has no batch size: each side keeps sagas in flight
        row["cores_busy"] = cores_busy
    side_by_side = {**_run(rows), "in_flight": 200}

    [pooled] = pool([side_by_side])

    assert pooled.comparison == "side by side, lean engine vs hand-written"
    assert pooled.n == 200
    # Per core busy: the framework side closed 5% fewer with 5% more of the machine.
    assert pooled.throughput == pytest.approx(0.95 * 0.95)
