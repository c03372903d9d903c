"""Reading definition text: one bounded parse, anchors and aliases refused, problems located."""

from __future__ import annotations

import pytest
import yaml

from temporal_sagas.definitions import InvalidDefinitionError, _yaml, parse_definition
from temporal_sagas.definitions._limits import MAX_DEFINITION_DEPTH, MAX_DEFINITION_NODES
from tests.definitions.hostile import HEAD, alias_bomb, deep_block, deep_flow, line_of, nested_nots


def _refused(text: str) -> InvalidDefinitionError:
    with pytest.raises(InvalidDefinitionError) as caught:
        parse_definition(text, source="hostile.yaml")
    assert len(caught.value.issues) == 1, str(caught.value)
    return caught.value


def test_an_alias_bomb_is_refused_at_its_first_anchor() -> None:
    text = alias_bomb()

    issue = _refused(text).issues[0]

    assert "anchors and aliases are not allowed" in issue.message
    assert (issue.source, issue.path, issue.line) == (
        "hostile.yaml",
        "input_schema.a",
        line_of(text, "&a"),
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (HEAD + "description: &d once\n", "&d"),
        (HEAD + "defaults:\n  <<: *shared\n", "*shared"),
    ],
    ids=["anchor-never-used", "alias-to-nothing"],
)
def test_an_anchor_or_alias_alone_is_refused_with_its_line(text: str, needle: str) -> None:
    issue = _refused(text).issues[0]

    assert "anchors and aliases are not allowed" in issue.message
    assert issue.line == line_of(text, needle)


def test_nesting_at_the_limit_is_accepted() -> None:
    definition = parse_definition(nested_nots(MAX_DEFINITION_DEPTH))

    depth, schema = 2, definition.input_schema
    while schema:
        depth, schema = depth + 1, schema["not"]
    assert depth == MAX_DEFINITION_DEPTH


def test_nesting_one_level_past_the_limit_is_refused() -> None:
    issue = _refused(nested_nots(MAX_DEFINITION_DEPTH + 1)).issues[0]

    assert issue.message == f"nested deeper than {MAX_DEFINITION_DEPTH} levels"
    assert issue.path == "input_schema" + ".not" * (MAX_DEFINITION_DEPTH - 2)
    assert issue.line == 4


@pytest.mark.parametrize(
    ("text", "needle"),
    [(deep_flow(20_000), "[["), (deep_block(20_000), "- - ")],
    ids=["flow", "block"],
)
def test_twenty_thousand_levels_are_refused_as_too_deep_not_a_recursion_error(
    text: str, needle: str
) -> None:
    issue = _refused(text).issues[0]

    assert issue.message == f"nested deeper than {MAX_DEFINITION_DEPTH} levels"
    assert issue.line == line_of(text, needle)


def test_more_values_than_the_limit_are_refused_where_the_limit_is_passed() -> None:
    items = ", ".join(["1"] * MAX_DEFINITION_NODES)
    text = HEAD + f"input_schema:\n  enum: [{items}]\n"

    issue = _refused(text).issues[0]

    assert issue.message == f"more than {MAX_DEFINITION_NODES} values in one definition"
    assert issue.path.startswith("input_schema.enum[")
    assert issue.line == 5


@pytest.mark.parametrize(
    ("value", "problem"),
    [("1" * 5000, "integer string conversion"), ("2024-13-45", "month must be in 1..12")],
    ids=["5000-digit-integer", "impossible-date"],
)
def test_a_scalar_python_cannot_build_is_a_located_syntax_issue(value: str, problem: str) -> None:
    text = HEAD + f"description: {value}\n"

    issue = _refused(text).issues[0]

    assert issue.path == "<syntax>"
    assert problem in issue.message
    assert issue.line == 4


def test_two_documents_in_one_file_are_refused_at_the_second() -> None:
    text = HEAD + "---\n" + HEAD

    issue = _refused(text).issues[0]

    assert "another document" in issue.message
    assert issue.line == 4


def test_definitions_are_parsed_by_libyaml_when_pyyaml_has_it() -> None:
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml")
    from yaml.cyaml import CParser

    assert issubclass(_yaml._Loader, CParser)


def test_the_pure_python_parser_refuses_the_same_hostile_texts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_yaml, "_Loader", _yaml.loader_on(yaml.SafeLoader))
    bomb, deep = alias_bomb(), deep_flow(20_000)

    assert "anchors and aliases" in _refused(bomb).issues[0].message
    assert _refused(deep).issues[0].message == f"nested deeper than {MAX_DEFINITION_DEPTH} levels"
    assert parse_definition(nested_nots(MAX_DEFINITION_DEPTH)).name == "hostile"
