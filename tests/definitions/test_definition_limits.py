"""Definition files and texts beyond the size and step limits are refused before they are built."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from temporal_sagas.definitions import (
    InvalidDefinitionError,
    SagaDefinition,
    load_definition,
    parse_definition,
)
from temporal_sagas.definitions._limits import MAX_DEFINITION_BYTES, MAX_STEPS
from tests.definitions.hostile import HEAD, line_of, many_steps


def test_a_file_one_byte_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as file:
        file.truncate(MAX_DEFINITION_BYTES + 1)  # sparse: its zero bytes are not YAML either

    with pytest.raises(InvalidDefinitionError) as caught:
        load_definition(path)

    (issue,) = caught.value.issues
    assert (issue.source, issue.path, issue.line) == (str(path), "<file>", None)
    assert f"larger than {MAX_DEFINITION_BYTES} bytes" in issue.message


def test_an_endless_file_is_read_no_further_than_the_limit() -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        load_definition("/dev/zero")

    assert f"larger than {MAX_DEFINITION_BYTES} bytes" in caught.value.issues[0].message


def test_text_over_the_limit_is_refused_by_parse_definition() -> None:
    text = HEAD + "description: " + "é" * (MAX_DEFINITION_BYTES // 2) + "\n"  # 2 bytes each

    with pytest.raises(InvalidDefinitionError) as caught:
        parse_definition(text, source="big.yaml")

    assert caught.value.issues[0].path == "<file>"


def test_a_file_that_is_not_utf8_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(HEAD.encode() + "description: café\n".encode("latin-1"))

    with pytest.raises(InvalidDefinitionError) as caught:
        load_definition(path)

    (issue,) = caught.value.issues
    assert "not UTF-8" in issue.message
    assert issue.line == 4


def test_the_most_steps_allowed_are_accepted() -> None:
    definition = parse_definition(many_steps(MAX_STEPS))

    assert len(definition.steps) == MAX_STEPS


def test_one_step_more_than_allowed_is_refused_at_the_steps_line() -> None:
    text = many_steps(MAX_STEPS + 1)

    with pytest.raises(InvalidDefinitionError) as caught:
        parse_definition(text, source="long.yaml")

    (issue,) = caught.value.issues
    assert issue.path == "steps"
    assert issue.line == line_of(text, "steps:")
    assert f"a saga has at most {MAX_STEPS}" in issue.message


def test_a_definition_built_in_code_is_held_to_the_step_limit_too() -> None:
    steps = [{"name": f"s{i}", "action": "act"} for i in range(MAX_STEPS + 1)]

    with pytest.raises(ValidationError, match=f"at most {MAX_STEPS} items"):
        SagaDefinition.model_validate({"name": "n", "version": 1, "steps": steps})
