"""``input_schema`` references: only into the schema itself, and never fetched."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from temporal_sagas.definitions import InvalidDefinitionError, SagaDefinition, parse_definition
from temporal_sagas.definitions._workflow import input_problems
from tests.definitions.hostile import line_of, remote_ref


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening socket: a schema fetch aimed at it would leave a connection waiting."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(2)  # a fetch that does happen waits 2 s for its answer, not forever
    try:
        with socket.create_server(("127.0.0.1", 0)) as server:
            server.setblocking(False)
            yield server
    finally:
        socket.setdefaulttimeout(previous)


def _url(server: socket.socket) -> str:
    return f"http://127.0.0.1:{server.getsockname()[1]}/x.json"


def _connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            server.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


def test_a_remote_ref_is_refused_with_its_line_and_never_fetched(
    listener: socket.socket,
) -> None:
    text = remote_ref(_url(listener))

    with pytest.raises(InvalidDefinitionError) as caught:
        parse_definition(text, source="remote.yaml")

    (issue,) = caught.value.issues
    assert issue.path == "input_schema.properties.a.$ref"
    assert issue.line == line_of(text, "$ref")
    assert "points outside the schema" in issue.message
    assert _connections(listener) == 0


def test_a_relative_ref_to_another_file_is_refused() -> None:
    with pytest.raises(InvalidDefinitionError, match="points outside the schema"):
        parse_definition(remote_ref("common.json#/$defs/id"))


def test_a_ref_into_the_schema_itself_is_accepted_and_applied() -> None:
    text = (
        "name: local\nversion: 1\nsteps: [{name: s, action: act}]\ninput_schema:\n"
        '  $defs: {id: {type: string, minLength: 3}}\n  properties: {a: {"$ref": "#/$defs/id"}}\n'
    )

    definition = parse_definition(text)

    assert input_problems(definition, {"a": "abc"}) is None
    assert "'ab' is too short" in str(input_problems(definition, {"a": "ab"}))


def test_a_ref_to_nothing_in_the_schema_is_refused() -> None:
    with pytest.raises(InvalidDefinitionError, match="names nothing in the schema"):
        parse_definition(remote_ref("#/$defs/missing"))


def test_input_checked_against_an_unchecked_remote_ref_fails_without_fetching(
    listener: socket.socket,
) -> None:
    # Built in code, so parse_definition's checks never saw it.
    definition = SagaDefinition.model_validate(
        {
            "name": "unchecked",
            "version": 1,
            "steps": [{"name": "s", "action": "act"}],
            "input_schema": {"properties": {"a": {"$ref": _url(listener)}}},
        }
    )

    problem = input_problems(definition, {"a": 1})

    assert problem is not None
    assert "cannot be resolved" in problem
    assert _connections(listener) == 0
