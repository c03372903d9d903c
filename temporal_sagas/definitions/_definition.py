"""The data style: a saga described in YAML or JSON, validated before anything runs.

A definition is parsed into the frozen `SagaDefinition` model, then checked for what
the saga contract forbids (duplicate steps, compensations on or after the pivot, bad
JMESPath, ...). Every problem is reported with the file, its line, the path inside
the definition (``steps[2].compensation``) and a hint. The content hash identifies a
definition's meaning, not its formatting: comments and key order do not change it.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import re
import typing
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
)
from temporalio import workflow
from temporalio.common import RetryPolicy

from temporal_sagas._errors import SagaDefinitionError
from temporal_sagas._models import CompensationPolicy
from temporal_sagas.definitions._limits import MAX_DEFINITION_BYTES, MAX_STEPS
from temporal_sagas.definitions._schemas import schema_problems
from temporal_sagas.definitions._yaml import DocumentRefused, load_yaml
from temporal_sagas.workflows._options import StepOptions

with workflow.unsafe.imports_passed_through():
    import jmespath

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration")
        return timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetrySpec(_Spec):
    """A Temporal retry policy, as data."""

    maximum_attempts: int | None = Field(None, ge=0, description="an integer >= 0 (0: unlimited)")
    initial_interval: Duration | None = Field(None, description="a duration like 200ms or 2s")
    backoff_coefficient: float | None = Field(None, ge=1.0, description="a number >= 1")
    maximum_interval: Duration | None = Field(None, description="a duration like 30s or 5m")
    non_retryable_error_types: tuple[str, ...] | None = Field(
        None, description="a list of ApplicationError types"
    )


class OptionsSpec(_Spec):
    """Activity options of an action or a compensation, as data."""

    start_to_close_timeout: Duration | None = Field(None, description="a duration like 10s")
    schedule_to_close_timeout: Duration | None = Field(None, description="a duration like 5m")
    heartbeat_timeout: Duration | None = Field(None, description="a duration like 30s")
    retry: RetrySpec | None = Field(None, description="a retry policy mapping")
    task_queue: str | None = Field(None, description="a task queue name")

    def to_step_options(self) -> StepOptions:
        """The engine's `StepOptions` for these options."""
        retry = None
        if self.retry is not None:
            fields = {k: v for k, v in self.retry.model_dump().items() if v is not None}
            if "non_retryable_error_types" in fields:
                fields["non_retryable_error_types"] = list(fields["non_retryable_error_types"])
            retry = RetryPolicy(**fields)
        return StepOptions(
            start_to_close_timeout=self.start_to_close_timeout,
            schedule_to_close_timeout=self.schedule_to_close_timeout,
            heartbeat_timeout=self.heartbeat_timeout,
            retry_policy=retry,
            task_queue=self.task_queue,
        )


class StepSpec(_Spec):
    """One step of a data-style saga."""

    name: str = Field(description="a name unique in the saga, without '/'")
    action: str = Field(description="the name of a registered activity")
    compensation: str | None = Field(None, description="the name of a registered activity")
    input: str = Field(
        "input",
        description="a JMESPath over {input: <saga input>, steps: {<step>: <result>}}",
    )
    pivot: bool = Field(False, description="true or false")
    local: bool = Field(False, description="true or false")
    compensate_on: Literal["attempt", "success"] = Field(
        "attempt", description="'attempt' (default) or 'success'"
    )
    compensate_with_result: bool = Field(
        False, description="true when the compensation takes the action's result as 2nd argument"
    )
    options: OptionsSpec | None = Field(None, description="an activity options mapping")
    compensation_options: OptionsSpec | None = Field(
        None, description="an activity options mapping"
    )
    probe: str | None = Field(
        None, description="a registered activity answering whether the action took effect"
    )
    ambiguous: tuple[str, ...] = Field(
        (), description="a list of error types of the action that leave its outcome unknown"
    )


class DefaultsSpec(_Spec):
    """Options applied to every action and every compensation."""

    action: OptionsSpec | None = Field(None, description="an activity options mapping")
    compensation: OptionsSpec | None = Field(None, description="an activity options mapping")


class SagaDefinition(_Spec):
    """A saga described as data, run by `DefinitionSaga`.

    Attributes:
        name: The saga's name; with ``version`` it identifies the definition.
        version: Bumped whenever the steps change; running sagas keep their version.
        key: JMESPath over ``{input: ...}`` giving the business key (default: workflow id).
        input_schema: A JSON Schema the saga input must satisfy.
        policy: How compensations run.
        park_on_failure: Park in NEEDS_ATTENTION when a compensation fails for good.
        search_attributes: Upsert ``SagaName``/``SagaStatus`` (see `Saga`).
        audit_log: Log each transition as an audit event live (see `Saga`).
        steps: The steps, in order.
        output: JMESPath over ``{input, steps}`` giving the result (default: ``steps``).
    """

    name: str = Field(description="a saga name without '/'")
    version: int = Field(ge=1, description="a positive integer, bumped when the steps change")
    description: str | None = Field(None, description="free text")
    key: str | None = Field(None, description="a JMESPath over {input: <saga input>}")
    input_schema: dict[str, Any] | None = Field(None, description="a JSON Schema mapping")
    policy: CompensationPolicy = Field(
        CompensationPolicy.SEQUENTIAL,
        description="one of sequential, continue_on_error, parallel",
    )
    park_on_failure: bool = Field(True, description="true or false")
    search_attributes: bool = Field(True, description="true or false")
    audit_log: bool = Field(True, description="true or false")
    defaults: DefaultsSpec = Field(DefaultsSpec(), description="a mapping: action, compensation")
    steps: tuple[StepSpec, ...] = Field(
        min_length=1, max_length=MAX_STEPS, description=f"a list of 1 to {MAX_STEPS} steps"
    )
    output: str | None = Field(None, description="a JMESPath over {input, steps}")

    # Where the definition was read from, and the line of each path in it: so that a
    # problem found later (an activity the worker lacks) names the file and line too.
    _source: str | None = PrivateAttr(default=None)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)

    def where(self, path: str) -> tuple[str, int | None]:
        """The file (or `ref` when not read from one) and the line of ``path`` in it."""
        if self._source is None:
            return self.ref, None
        return self._source, _line_of(self._lines, path)

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON form: same meaning, same hash.

        Fields added after the first release are left out while they hold their
        default, so a definition that does not use them keeps the hash its running
        sagas recorded.
        """
        data = self.model_dump(mode="json")
        for name, default in _LATER_FIELDS.items():
            if data.get(name) == default:
                del data[name]
        for step in data["steps"]:
            for name, default in _LATER_STEP_FIELDS.items():
                if step.get(name) == default:
                    del step[name]
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def ref(self) -> str:
        """``name@vN``, how logs and errors name this definition."""
        return f"{self.name}@v{self.version}"


#: Fields added to `SagaDefinition` after hashes were first recorded, with defaults.
_LATER_FIELDS: dict[str, Any] = {"search_attributes": True, "audit_log": True}
#: The same for the fields of each step.
_LATER_STEP_FIELDS: dict[str, Any] = {"probe": None, "ambiguous": []}


@dataclasses.dataclass(frozen=True)
class DefinitionIssue:
    """One problem in a definition: where it is, what is wrong, what to do."""

    source: str
    path: str
    message: str
    hint: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}: {self.path}: {self.message}{hint}"


class InvalidDefinitionError(SagaDefinitionError):
    """A saga definition is not valid; ``issues`` says where and why.

    Attributes:
        issues: Every problem found, in document order.
    """

    def __init__(self, issues: Sequence[DefinitionIssue]) -> None:
        self.issues = tuple(issues)
        if len(self.issues) == 1:  # one line, as the CLI prints any SagaError
            super().__init__(f"invalid saga definition: {self.issues[0]}")
        else:
            super().__init__(
                "invalid saga definition:\n" + "\n".join(f"  {i}" for i in self.issues)
            )


# -- loading ---------------------------------------------------------------------------------


def load_definition(path: str | Path) -> SagaDefinition:
    """Load and validate a definition from a ``.yaml``, ``.yml`` or ``.json`` file.

    A file larger than `MAX_DEFINITION_BYTES` is refused before it is read.

    Raises:
        InvalidDefinitionError: The file cannot be read or the definition is invalid.
    """
    file = Path(path)
    source = str(file)
    try:
        with file.open("rb") as stream:
            # A regular file's size says it all; other files (a pipe, /dev/zero) are read
            # to at most one byte past the limit.
            too_large = os.fstat(stream.fileno()).st_size > MAX_DEFINITION_BYTES
            raw = b"" if too_large else stream.read(MAX_DEFINITION_BYTES + 1)
    except OSError as err:
        issue = DefinitionIssue(source, "<file>", f"cannot read: {err.strerror}")
        raise InvalidDefinitionError([issue]) from err
    if too_large or len(raw) > MAX_DEFINITION_BYTES:
        raise InvalidDefinitionError([_too_large(source)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        issue = DefinitionIssue(
            source,
            "<file>",
            f"not UTF-8 text: byte {err.start} cannot be decoded",
            "save the file as UTF-8",
            raw.count(b"\n", 0, err.start) + 1,
        )
        raise InvalidDefinitionError([issue]) from None
    return parse_definition(text, source=source)


def parse_definition(text: str, *, source: str = "<definition>") -> SagaDefinition:
    """Parse and validate a definition from YAML or JSON text.

    The text is parsed once, with libyaml when PyYAML has it. Anchors and aliases are
    refused, and so is text beyond the limits of `temporal_sagas.definitions._limits`.

    Raises:
        InvalidDefinitionError: The text is not a valid definition.
    """
    if len(text) > MAX_DEFINITION_BYTES or len(text.encode("utf-8")) > MAX_DEFINITION_BYTES:
        raise InvalidDefinitionError([_too_large(source)])
    try:
        data, lines = load_yaml(text)
    except DocumentRefused as refused:
        issue = DefinitionIssue(source, refused.path, refused.message, refused.hint, refused.line)
        raise InvalidDefinitionError([issue]) from None
    if not isinstance(data, dict):
        issue = DefinitionIssue(
            source,
            "<root>",
            f"expected a mapping, got {type(data).__name__}",
            "start with `name:`, `version:` and `steps:`",
            lines.get("<root>", 1),
        )
        raise InvalidDefinitionError([issue])
    steps = data.get("steps")
    if isinstance(steps, list) and len(steps) > MAX_STEPS:
        issue = DefinitionIssue(
            source,
            "steps",
            f"{len(steps)} steps; a saga has at most {MAX_STEPS}",
            "split the saga into child sagas",
            _line_of(lines, "steps"),
        )
        raise InvalidDefinitionError([issue])
    try:
        definition = SagaDefinition.model_validate(data)
    except ValidationError as err:
        raise InvalidDefinitionError(_pydantic_issues(source, err, lines)) from None
    issues = [
        dataclasses.replace(i, source=source, line=_line_of(lines, i.path))
        for i in check_definition(definition)
    ]
    if issues:
        raise InvalidDefinitionError(issues)
    definition._source = source
    definition._lines = lines
    return definition


def _too_large(source: str) -> DefinitionIssue:
    return DefinitionIssue(
        source,
        "<file>",
        f"larger than {MAX_DEFINITION_BYTES} bytes, the limit for a definition",
        "keep large data (lookup tables, fixtures) out of the definition",
        None,
    )


# -- semantic checks ---------------------------------------------------------------------------


def check_definition(definition: SagaDefinition) -> list[DefinitionIssue]:
    """The problems of a structurally valid definition (no source or line filled in)."""
    issues: list[DefinitionIssue] = []
    add = issues.append
    if not _valid_name(definition.name):
        add(_issue("name", f"invalid saga name {definition.name!r}", _NAME_HINT))
    if definition.key is not None:
        issues += _check_jmespath("key", definition.key, roots={"input"}, steps=())
    if definition.input_schema is not None:
        issues += [_issue(*p) for p in schema_problems(definition.input_schema)]
    seen: list[str] = []
    pivot: str | None = None
    for index, spec in enumerate(definition.steps):
        at = f"steps[{index}]"
        if not _valid_name(spec.name):
            add(_issue(f"{at}.name", f"invalid step name {spec.name!r}", _NAME_HINT))
        elif spec.name in seen:
            add(
                _issue(
                    f"{at}.name",
                    f"duplicate step name {spec.name!r} (also steps[{seen.index(spec.name)}])",
                    "give every step its own name: keys and activity ids derive from it",
                )
            )
        if spec.pivot and pivot is not None:
            add(
                _issue(
                    f"{at}.pivot",
                    f"a second pivot (the first is {pivot!r})",
                    "a saga has at most one point of no return",
                )
            )
        if spec.compensation is not None and (spec.pivot or pivot is not None):
            where = "the pivot" if spec.pivot else f"after the pivot {pivot!r}"
            add(
                _issue(
                    f"{at}.compensation",
                    f"step {spec.name!r} is {where} but declares a compensation",
                    "steps from the pivot on are never compensated: drop the compensation "
                    "or move the step before the pivot",
                )
            )
        if spec.compensation is None:
            for field in ("compensation_options", "compensate_with_result"):
                if field in spec.model_fields_set:
                    add(
                        _issue(
                            f"{at}.{field}",
                            f"{field} given but the step has no compensation",
                            f"add `compensation:` or drop `{field}`",
                        )
                    )
        issues += _check_jmespath(f"{at}.input", spec.input, roots={"input", "steps"}, steps=seen)
        seen.append(spec.name)
        pivot = spec.name if spec.pivot and pivot is None else pivot
    if definition.output is not None:
        issues += _check_jmespath("output", definition.output, {"input", "steps"}, seen)
    return issues


def check_activities(
    definition: SagaDefinition, activity_names: Iterable[str], *, source: str | None = None
) -> list[DefinitionIssue]:
    """The steps whose action or compensation names an activity not in ``activity_names``.

    Each issue names the definition's file and line when it was read from a file
    (``source`` overrides the file's name), else its ``name@vN``.
    """
    known = sorted(set(activity_names))
    issues = []
    for index, spec in enumerate(definition.steps):
        for field, name in (
            ("action", spec.action),
            ("compensation", spec.compensation),
            ("probe", spec.probe),
        ):
            if name is not None and name not in known:
                path = f"steps[{index}].{field}"
                where, line = definition.where(path)
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"registered: {known}"
                issues.append(
                    DefinitionIssue(
                        source or where,
                        path,
                        f"unknown activity {name!r} in {definition.ref}: no worker activity "
                        "has that name",
                        hint,
                        line,
                    )
                )
    return issues


_NAME_HINT = "use a non-empty name without '/' or surrounding spaces (it becomes part of keys)"


def _valid_name(name: str) -> bool:
    return bool(name) and "/" not in name and name == name.strip()


def _issue(path: str, message: str, hint: str | None) -> DefinitionIssue:
    return DefinitionIssue("<definition>", path, message, hint)


def _check_jmespath(
    path: str, expression: str, roots: set[str], steps: Sequence[str]
) -> list[DefinitionIssue]:
    try:
        parsed = jmespath.compile(expression).parsed
    except jmespath.exceptions.JMESPathError as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return [
            _issue(path, f"bad JMESPath {expression!r}: {first}", "see jmespath.org for syntax")
        ]
    issues = []
    for root, step in _root_refs(typing.cast(dict[str, Any], parsed)):
        if root not in roots:
            allowed = " and ".join(f"`{r}`" for r in sorted(roots))
            issues.append(
                _issue(
                    path,
                    f"JMESPath {expression!r} reads {root!r}, which is not defined here",
                    f"start paths with {allowed}",
                )
            )
        elif root == "steps" and step is not None and step not in steps:
            issues.append(
                _issue(
                    path,
                    f"JMESPath {expression!r} reads the result of step {step!r}, "
                    "which does not run before it",
                    f"earlier steps: {list(steps)}",
                )
            )
    return issues


def _root_refs(node: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The ``(root field, next field)`` pairs an expression reads from its root object."""
    kind, children = node.get("type"), node.get("children", [])
    if kind == "field":
        return [(node["value"], None)]
    if kind in ("subexpression", "index_expression"):
        first = children[0]
        if first.get("type") == "field" and len(children) > 1:
            nxt = children[1]
            return [(first["value"], nxt["value"] if nxt.get("type") == "field" else None)]
        return _root_refs(first)
    if kind in ("projection", "value_projection", "flatten", "filter_projection", "pipe"):
        return _root_refs(children[0]) if children else []
    if kind == "key_val_pair" or kind in (
        "multi_select_dict",
        "multi_select_list",
        "function_expression",
        "and_expression",
        "or_expression",
        "not_expression",
        "comparator",
    ):
        return [ref for child in children for ref in _root_refs(child)]
    return []  # literals, `@`, expression references: nothing read from the root


# -- locating errors ---------------------------------------------------------------------------


_LAST_PART = re.compile(r"(\.[^.\[]+|\[\d+\])$")


def _line_of(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path``, or of its nearest parent present in the document."""
    while path:
        if path in lines:
            return lines[path]
        parent = _LAST_PART.sub("", path)
        if parent == path:
            break
        path = parent
    return lines.get("<root>")


def _format_loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _pydantic_issues(
    source: str, err: ValidationError, lines: dict[str, int]
) -> list[DefinitionIssue]:
    issues = [_from_pydantic(source, e, lines) for e in err.errors()]
    # pydantic also reports "too short" for a list whose only items were invalid; the
    # items' own errors say what to fix.
    issues = [
        i
        for i in issues
        if not (
            i.message.startswith(("List should have", "Tuple should have"))
            and any(o.path.startswith(f"{i.path}[") for o in issues)
        )
    ]
    return sorted(issues, key=lambda i: (i.line or 0, i.path))


def _from_pydantic(source: str, error: Any, lines: dict[str, int]) -> DefinitionIssue:
    loc: tuple[int | str, ...] = tuple(error["loc"])
    path = _format_loc(loc)
    kind = error["type"]
    model = _model_at(loc[:-1])
    field = loc[-1] if loc else None
    if kind == "extra_forbidden":
        allowed = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(field), allowed, n=2)
        suggestion = (
            "did you mean " + " or ".join(repr(c) for c in sorted(close)) + "?"
            if close
            else f"allowed fields: {allowed}"
        )
        return DefinitionIssue(
            source, path, f"unknown field {field!r}", suggestion, _line_of(lines, path)
        )
    info = model.model_fields.get(str(field)) if model and isinstance(field, str) else None
    hint: str | None = f"expected {info.description}" if info and info.description else None
    message = "missing required field" if kind == "missing" else str(error["msg"])
    if kind == "missing" and isinstance(field, str):
        hint = f"add `{field}:` ({info.description})" if info and info.description else hint
    return DefinitionIssue(source, path, message, hint, _line_of(lines, path))


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = SagaDefinition
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        model = _model_in(info.annotation) if info is not None else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
