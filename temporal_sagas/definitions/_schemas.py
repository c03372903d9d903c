"""A definition's ``input_schema``: checked, resolved and applied without the network.

jsonschema resolves ``$ref`` through the ``referencing`` library, and by default it
fetches any URL a schema names. Outside a workflow that is a request to wherever the
definition's author pointed; inside one the workflow sandbox blocks it, the workflow
task fails on every attempt and the saga never leaves RUNNING. So a schema may only
refer into itself (``"$ref": "#/$defs/..."``): `schema_problems` refuses any other
reference before a worker runs the definition, and every validator built here gets a
registry that cannot fetch, so nothing can reach the network even if a reference
slipped past (a definition built in code and never checked).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import jsonschema
    import referencing
    import referencing.exceptions
    import referencing.jsonschema

#: The keywords whose value is a reference to another schema.
_REFERENCES = ("$ref", "$dynamicRef", "$recursiveRef")


def _never_fetch(uri: str) -> referencing.Resource[Any]:
    raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]


#: A registry knowing only the JSON Schema meta-schemas; any other URI is unresolvable.
NO_FETCH: referencing.Registry[Any] = referencing.Registry(retrieve=_never_fetch)  # type: ignore[call-arg]

#: Raised by a validator that meets a reference it cannot resolve.
Unresolvable = referencing.exceptions.Unresolvable


def validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for ``schema`` that never fetches a reference."""
    return jsonschema.validators.validator_for(schema)(schema, registry=NO_FETCH)


def schema_problems(schema: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(path, message, hint)`` for each problem of ``schema`` (paths in ``input_schema``)."""
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as err:
        return [
            (
                _path(err.path),
                f"not a valid JSON Schema: {err.message}",
                "see the JSON Schema reference for the allowed keywords and types",
            )
        ]
    except RecursionError:
        return [("input_schema", "nested too deeply to check", "flatten the schema")]
    problems = []
    nested_ids = False
    refs: list[tuple[tuple[str | int, ...], str, str]] = []
    for where, node in _subschemas(schema):
        nested_ids = nested_ids or (bool(where) and isinstance(node.get("$id"), str))
        refs += [(where, k, node[k]) for k in _REFERENCES if isinstance(node.get(k), str)]
    resolver = NO_FETCH.resolver_with_root(
        referencing.jsonschema.specification_with(
            cls.META_SCHEMA.get("$schema", ""), default=referencing.jsonschema.DRAFT202012
        ).create_resource(schema)
    )
    for where, keyword, ref in refs:
        path = _path((*where, keyword))
        if not ref.startswith("#"):
            problems.append(
                (
                    path,
                    f"{keyword} {ref!r} points outside the schema; definitions never fetch schemas",
                    "copy the referenced schema under `$defs` and refer to it as '#/$defs/<name>'",
                )
            )
        elif not nested_ids:  # with nested $id the base URI changes: checked when used
            try:
                resolver.lookup(ref)
            except Unresolvable:
                problems.append(
                    (path, f"{keyword} {ref!r} names nothing in the schema", "fix the pointer")
                )
    return problems


def _subschemas(schema: Any) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every mapping in ``schema`` with its path; iterative, so any depth is safe."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), schema)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            yield where, node
            stack += [((*where, k), v) for k, v in node.items() if isinstance(v, dict | list)]
        elif isinstance(node, list):
            stack += [((*where, i), v) for i, v in enumerate(node) if isinstance(v, dict | list)]


def _path(parts: Any) -> str:
    return "input_schema" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
