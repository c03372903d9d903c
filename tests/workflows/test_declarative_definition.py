"""Data-style definitions: loading, located validation errors, content hash, activity names."""

from __future__ import annotations

from pathlib import Path

import pytest

from temporal_sagas import SagaDefinitionError
from temporal_sagas.definitions import (
    DefinitionRegistry,
    InvalidDefinitionError,
    load_definition,
    parse_definition,
    validate_definitions,
)
from tests.workflows.trip_styles import ACTIVITIES, DEFINITIONS_DIR, TRIP_YAML

BAD = sorted((DEFINITIONS_DIR / "bad").glob("*.yaml"))


def _expectation(path: Path) -> tuple[str, str]:
    header = path.read_text().splitlines()[0]
    assert header.startswith("# expect: "), f"{path.name} lacks its '# expect:' header"
    where, message = header.removeprefix("# expect: ").split(" | ", 1)
    return where, message


def test_there_are_at_least_fifteen_malformed_definitions() -> None:
    assert len(BAD) >= 15


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_malformed_definition_reports_its_specific_located_error(path: Path) -> None:
    where, message = _expectation(path)
    registry = DefinitionRegistry()

    with pytest.raises(InvalidDefinitionError) as caught:
        registry.register(path)

    issue = caught.value.issues[0]
    assert (issue.path, message in issue.message) == (where, True), str(caught.value)
    assert issue.source == str(path)
    assert issue.line is not None
    assert issue.line > 1  # line 1 is the expectation header
    assert issue.hint
    assert len(registry) == 0  # nothing registered, so no saga can start on it


def test_trip_definition_loads_with_its_steps_and_defaults() -> None:
    definition = load_definition(TRIP_YAML)

    assert definition.ref == "book-trip@v1"
    assert [s.name for s in definition.steps] == ["car", "hotel", "flight"]
    assert [s.compensation for s in definition.steps] == [
        "cancel_car",
        "cancel_hotel",
        "cancel_flight",
    ]
    assert definition.defaults.action is not None
    options = definition.defaults.action.to_step_options()
    assert options.retry_policy is not None
    assert options.retry_policy.maximum_attempts == 2


def test_content_hash_ignores_formatting_but_not_meaning() -> None:
    compact = '{"name": "h", "version": 1, "steps": [{"name": "a", "action": "x"}]}'
    spread = "# comment\nsteps:\n  - action: x\n    name: a\nversion: 1\nname: h\n"
    changed = '{"name": "h", "version": 1, "steps": [{"name": "a", "action": "y"}]}'

    assert parse_definition(compact).content_hash == parse_definition(spread).content_hash
    assert parse_definition(compact).content_hash != parse_definition(changed).content_hash


def test_content_hash_of_a_definition_without_the_newer_fields_is_the_one_sagas_recorded() -> None:
    # Sagas in flight carry this hash in a marker: a changed hash would stop them.
    compact = '{"name": "h", "version": 1, "steps": [{"name": "a", "action": "x"}]}'
    explicit = compact.replace('"version": 1', '"version": 1, "audit_log": true')
    lean = compact.replace('"version": 1', '"version": 1, "audit_log": false')

    recorded = "2ea260d65c6854a8e0698a9805d5dc7be7e91866844b870907a11ad18a74e4c6"
    assert parse_definition(compact).content_hash == recorded
    assert parse_definition(explicit).content_hash == recorded
    assert parse_definition(lean).content_hash != recorded


def test_json_definition_reports_errors_with_lines() -> None:
    text = (
        '{\n  "name": "j",\n  "version": 1,\n  "steps": [\n'
        '    {"name": "a", "acton": "x"}\n  ]\n}\n'
    )

    with pytest.raises(InvalidDefinitionError) as caught:
        parse_definition(text, source="saga.json")

    assert [str(i) for i in caught.value.issues] == [
        "saga.json:5: steps[0].action: missing required field "
        "(hint: add `action:` (the name of a registered activity))",
        "saga.json:5: steps[0].acton: unknown field 'acton' (hint: did you mean 'action'?)",
    ]


def test_unknown_activity_is_rejected_at_worker_start_with_its_location() -> None:
    definition = parse_definition(
        "name: t\nversion: 1\nsteps:\n"
        "  - {name: car, action: reserve_car, compensation: cancel_car}\n"
        "  - {name: hotel, action: reserve_hotle, compensation: cancel_hotel}\n"
    )

    with pytest.raises(InvalidDefinitionError) as caught:
        validate_definitions([definition], ACTIVITIES)

    (issue,) = caught.value.issues
    assert issue.path == "steps[1].action"
    assert "unknown activity 'reserve_hotle'" in issue.message
    assert issue.hint == "did you mean 'reserve_hotel'?"


def test_known_activities_pass_worker_start_validation() -> None:
    validate_definitions([load_definition(TRIP_YAML)], ACTIVITIES)


def test_registry_refuses_other_content_under_a_registered_version() -> None:
    registry = DefinitionRegistry()
    registry.register(parse_definition("name: r\nversion: 1\nsteps: [{name: a, action: x}]"))
    registry.register(parse_definition("name: r\nversion: 1\nsteps: [{name: a, action: x}]"))

    with pytest.raises(SagaDefinitionError, match="bump `version`"):
        registry.register(parse_definition("name: r\nversion: 1\nsteps: [{name: a, action: y}]"))
    assert len(registry) == 1
