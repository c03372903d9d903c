"""Sagas described as data (YAML or JSON), behind the ``[definitions]`` extra.

`load_definition` / `parse_definition` read and check a definition and report every
problem with its file, line and path; `register_definition` makes it runnable by the
generic `DefinitionSaga` workflow on a worker, which maps step inputs with JMESPath
and validates the saga input against the definition's JSON Schema.

Importing this package without the extra raises `MissingExtraError`, naming it.
"""

from temporal_sagas._extras import require

require("YAML/JSON saga definitions", "definitions", "yaml", "jsonschema", "jmespath")

from temporal_sagas.definitions._definition import (  # noqa: E402
    DefinitionIssue,
    InvalidDefinitionError,
    SagaDefinition,
    check_definition,
    load_definition,
    parse_definition,
)
from temporal_sagas.definitions._workflow import (  # noqa: E402
    DEFINITIONS,
    DefinitionRegistry,
    DefinitionSaga,
    DefinitionSagaInput,
    register_definition,
    validate_definitions,
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
