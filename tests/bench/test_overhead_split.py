"""The overhead split's counting of the worker's sandbox entries and collector runs."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bench import overhead_split


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    overhead_split._counted.clear()
    yield
    overhead_split._counted.clear()


class _Entry:
    def activate(self, value: int) -> int:
        return value + 1


def test_a_counted_method_is_counted_per_call_and_still_answers() -> None:
    overhead_split._count_calls(_Entry, "activate")

    results = [_Entry().activate(1), _Entry().activate(2)]

    assert results == [2, 3]
    assert overhead_split._counted["activate"] == 2


def test_the_collector_watch_counts_a_full_collection_and_its_garbage() -> None:
    watch = overhead_split._collector_watch()
    gc.callbacks.append(watch)
    try:
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        gc.collect()
    finally:
        gc.callbacks.remove(watch)

    assert overhead_split._counted["gc2"] >= 1
    assert overhead_split._counted["garbage"] >= 1
