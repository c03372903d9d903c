"""Names become keys and activity ids, so names that could collide are refused."""

from __future__ import annotations

import pytest

from temporal_sagas import Saga, SagaDefinitionError


@pytest.mark.parametrize("name", ["", " pad", "a/b", "charge[1]", "x#2"])
def test_names_that_could_collide_in_keys_are_rejected(name: str) -> None:
    with pytest.raises(SagaDefinitionError, match="invalid saga name"):
        Saga(name)


def test_a_step_outside_the_saga_block_is_a_definition_error() -> None:
    saga = Saga("lonely")
    with pytest.raises(SagaDefinitionError, match="async with saga"):
        _ = saga.key
