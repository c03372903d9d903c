"""Snapshot tests of `sagas show`: the terminal timeline and the JSON output."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from temporal_sagas.cli._main import cli
from temporal_sagas.history import load_history, rebuild, render_saga
from tests.history.snapshots import assert_snapshot
from tests.history.test_golden_histories import CASES, HISTORIES


@pytest.mark.parametrize("case", CASES)
def test_terminal_rendering_matches_its_snapshot(case: str) -> None:
    state = rebuild(load_history(HISTORIES / f"{case}.history.json")).state
    assert_snapshot(f"{case}.txt", render_saga(state, width=100))


@pytest.mark.parametrize("case", ["parked", "retried"])
def test_show_json_from_a_history_file_matches_its_snapshot(case: str) -> None:

    result = CliRunner().invoke(
        cli, ["show", "--history", str(HISTORIES / f"{case}.history.json"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert_snapshot(f"{case}.json", result.output)


def test_rendering_shows_the_parked_step_and_what_to_do() -> None:
    state = rebuild(load_history(HISTORIES / "parked.history.json")).state
    text = render_saga(state)
    assert "now: parked on charge; waiting for an operator" in text
    assert "\x1b[" not in text  # no colour codes
