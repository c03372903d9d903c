"""Sagas described as data (YAML or JSON), behind the ``[definitions]`` extra.

`load_definition` / `parse_definition` read and check a definition and report every
problem with its file, line and path; `register_definition` makes it runnable by the
generic `DefinitionSaga` workflow on a worker, which maps step inputs with JMESPath
and validates the saga input against the definition's JSON Schema.

Importing this package without the extra raises `MissingExtraError`, naming it.
"""

from temporal_sagas._extras import require

require("YAML/JSON saga definitions", "definitions", "yaml", "jsonschema", "jmespath")

from typing import TYPE_CHECKING  # noqa: E402

from temporal_sagas._lazy import lazy_attributes  # noqa: E402
from temporal_sagas.definitions._definition import (  # noqa: E402
    DefinitionIssue,
    InvalidDefinitionError,
    SagaDefinition,
    check_definition,
    load_definition,
    parse_definition,
)

if TYPE_CHECKING:
    from temporal_sagas.workflows._generic import (
        DEFINITIONS,
        DefinitionRegistry,
        DefinitionSaga,
        DefinitionSagaInput,
        register_definition,
        validate_definitions,
    )

# The generic workflow imports this package's models; loading it on first use keeps
# the two from importing each other while either is half-initialised.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    globals(),
    dict.fromkeys(
        (
            "DEFINITIONS",
            "DefinitionRegistry",
            "DefinitionSaga",
            "DefinitionSagaInput",
            "register_definition",
            "validate_definitions",
        ),
        "temporal_sagas.workflows._generic",
    ),
)

__all__ = [
    "DEFINITIONS",
    "DefinitionIssue",
    "DefinitionRegistry",
    "DefinitionSaga",
    "DefinitionSagaInput",
    "InvalidDefinitionError",
    "SagaDefinition",
    "check_definition",
    "load_definition",
    "parse_definition",
    "register_definition",
    "validate_definitions",
]
