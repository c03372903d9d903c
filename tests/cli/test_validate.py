"""`sagas validate` and `sagas graph`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from temporal_sagas.cli._validate import graph, validate
from temporal_sagas.definitions._limits import (
    MAX_DEFINITION_BYTES,
    MAX_DEFINITION_NODES,
    MAX_STEPS,
)
from tests.cli.bounded import run_sagas
from tests.definitions import hostile

DEFINITIONS = Path(__file__).resolve().parents[1] / "definitions"
TRIP = str(DEFINITIONS / "trip.yaml")
TWO_PIVOTS = str(DEFINITIONS / "bad" / "two_pivots.yaml")


def test_validate_accepts_a_valid_definition_and_prints_its_hash() -> None:
    result = CliRunner().invoke(validate, [TRIP])

    assert result.exit_code == 0, result.output
    assert f"ok: {TRIP}: book-trip@v1, 3 steps, hash " in result.output


def test_validate_prints_located_errors_and_exits_one() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "temporal_sagas.cli", "validate", TRIP, TWO_PIVOTS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 1
    assert f"error: {TWO_PIVOTS}:7: steps[2].pivot: a second pivot" in run.stderr
    assert "ok: " in run.stdout


def test_validate_checks_activity_names_when_given_the_workers_activities(
    tmp_path: Path,
) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("name: t\nversion: 1\nsteps:\n  - {name: car, action: reserve_cra}\n")

    result = CliRunner().invoke(
        validate, [str(typo), "--activities", "tests.workflows.trip_styles:ACTIVITIES"]
    )

    assert result.exit_code == 1
    assert "steps[0].action: unknown activity 'reserve_cra'" in result.output
    assert "did you mean 'reserve_car'?" in result.output


def test_graph_of_a_definition_shows_steps_and_compensations_in_order() -> None:
    result = CliRunner().invoke(graph, [TRIP])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "flowchart LR"
    assert '    s0["car<br/>reserve_car"]' in lines
    assert "    s0 --> s1" in lines
    assert "    s2 -. compensate .-> s2_undo" in lines
    assert '    s2_undo(["cancel_flight"])' in lines


def test_graph_of_a_class_marks_the_pivot_and_has_no_compensation_after_it() -> None:
    result = CliRunner().invoke(graph, ["tests.workflows.trip_styles:ConfirmedTrip"])

    assert result.exit_code == 0, result.output
    assert '    s1{{"flight<br/>reserve_flight<br/>pivot: no return"}}' in result.output
    assert "s1_undo" not in result.output
    assert "s2_undo" not in result.output


HOSTILE = {
    "alias-bomb": lambda: hostile.alias_bomb(),
    "20000-levels-deep": lambda: hostile.deep_flow(20_000),
    "5-mb": lambda: hostile.many_steps(1000, padding=5_000_000),
    "remote-ref": lambda: hostile.remote_ref("http://127.0.0.1:9/x.json"),
}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_validate_refuses_a_hostile_definition_in_one_line_within_200_mb(
    tmp_path: Path, make: Callable[[], str]
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(make())

    run = run_sagas(tmp_path, "validate", str(path))

    assert run.code == 1
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert run.stderr.startswith(f"error: {path}")
    assert "Traceback" not in run.stderr + run.stdout
    assert run.max_rss_mb < 200


def test_validate_reads_a_definition_at_the_size_and_value_limits_within_200_mb(
    tmp_path: Path,
) -> None:
    # About 9,000 values in the steps, the rest in one enum; the description fills the bytes.
    unpadded = hostile.many_steps(MAX_STEPS, enum_items=MAX_DEFINITION_NODES - 10_000)
    path = tmp_path / "large.yaml"
    path.write_text(
        hostile.many_steps(
            MAX_STEPS,
            enum_items=MAX_DEFINITION_NODES - 10_000,
            padding=MAX_DEFINITION_BYTES - len(unpadded) - 10,
        )
    )

    run = run_sagas(tmp_path, "validate", str(path))

    assert run.code == 0, run.stderr
    assert run.stdout.startswith(f"ok: {path}: big@v1, {MAX_STEPS} steps")
    assert run.max_rss_mb < 200
