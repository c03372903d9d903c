"""Code that runs inside the workflow sandbox: the saga engine. Deterministic only."""

from temporal_sagas.workflows._operator import (
    QUERY_STATE,
    UPDATE_RESOLVE,
    UPDATE_RETRY,
    UPDATE_SKIP,
)
from temporal_sagas.workflows._options import StepOptions
from temporal_sagas.workflows._saga import Saga

__all__ = [
    "QUERY_STATE",
    "UPDATE_RESOLVE",
    "UPDATE_RETRY",
    "UPDATE_SKIP",
    "Saga",
    "StepOptions",
]
