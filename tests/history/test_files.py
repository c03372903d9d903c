"""History files beyond the size and nesting limits are refused before they are read or parsed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from temporal_sagas.history import SagaHistoryError, load_history
from temporal_sagas.history._files import MAX_HISTORY_BYTES, MAX_HISTORY_DEPTH, read_history_json
from tests.history.hostile import deep_history, oversized


def test_a_history_nested_100000_levels_deep_is_refused_with_its_line_and_column(
    tmp_path: Path,
) -> None:
    path = deep_history(tmp_path / "deep.json", 100_000)
    column = len('{"events": ') + MAX_HISTORY_DEPTH  # the bracket one level too deep

    with pytest.raises(SagaHistoryError) as caught:
        load_history(path)

    assert str(caught.value) == (
        f"history file {str(path)!r} nests JSON deeper than {MAX_HISTORY_DEPTH} levels "
        f"(line 1, column {column}), so it is not a Temporal history export"
    )


def test_nesting_at_the_limit_is_parsed(tmp_path: Path) -> None:
    path = deep_history(tmp_path / "deep.json", MAX_HISTORY_DEPTH - 1)  # the braces are one

    document = read_history_json(path)

    depth, node = 2, document["events"]  # the depth of node
    while node:
        depth, node = depth + 1, node[0]
    assert depth == MAX_HISTORY_DEPTH


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    text = "[" * (MAX_HISTORY_DEPTH + 1) + '\\" {'
    path = tmp_path / "strings.json"
    path.write_text(json.dumps({"events": [], "note": text}))

    assert read_history_json(path) == {"events": [], "note": text}


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = oversized(tmp_path / "huge.json", MAX_HISTORY_BYTES + 1)

    with pytest.raises(SagaHistoryError, match=f"larger than {MAX_HISTORY_BYTES} bytes"):
        load_history(path)


def test_a_file_that_is_not_utf8_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"events": [],\n"note": "caf\xe9"}')

    with pytest.raises(SagaHistoryError, match=r"not UTF-8 text \(line 2, byte 27\)"):
        load_history(path)
