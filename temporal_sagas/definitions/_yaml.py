"""Reading YAML (and JSON) definition text safely: one parse, bounded, located.

PyYAML resolves aliases by sharing nodes, so a kilobyte of nested aliases (a "billion
laughs" file) is a tree of billions of nodes to whoever walks it; a file nested
thousands of levels deep exhausts Python's recursion. So anchors and aliases are
refused, and nesting depth and node count are checked as each node is composed,
before anything is built from it. The same pass records the line of every path
(``steps[2].compensation``) so that later problems are located too. libyaml's C
parser does the scanning when PyYAML has it: an order of magnitude faster than the
pure-Python one.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from temporalio import workflow

from temporal_sagas.definitions._limits import MAX_DEFINITION_DEPTH, MAX_DEFINITION_NODES

with workflow.unsafe.imports_passed_through():
    import yaml
    from yaml.composer import Composer

#: libyaml's parser when PyYAML was built with it, else the pure-Python one.
_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_TOO_DEEP = f"nested deeper than {MAX_DEFINITION_DEPTH} levels"
_FLATTEN = "flatten the structure: no definition needs this depth"


class DocumentRefused(Exception):
    """The text cannot be read as a definition; where and why."""

    def __init__(self, path: str, message: str, hint: str, line: int | None) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.hint = hint
        self.line = line


class _Bounded(Composer):
    """A composer that refuses anchors, aliases, depth and size beyond the limits.

    A class of its own so that it comes first in the method order of a loader built on
    either parser (the pure-Python `SafeLoader` already has `Composer` among its bases).
    """

    lines: dict[str, int]
    _paths: list[str]
    _nodes: int
    peek_event: Callable[[], Any]  # from the parser it is combined with

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        path = self._path(parent, index)
        where = path or "<root>"
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise DocumentRefused(
                where,
                "YAML anchors and aliases are not allowed in a definition",
                "write the repeated part out in full (use `defaults:` for shared options)",
                line,
            )
        if len(self._paths) >= MAX_DEFINITION_DEPTH:
            raise DocumentRefused(where, _TOO_DEEP, _FLATTEN, line)
        self._nodes += 1
        if self._nodes > MAX_DEFINITION_NODES:
            raise DocumentRefused(
                where,
                f"more than {MAX_DEFINITION_NODES} values in one definition",
                "split the saga, or keep large data out of the definition",
                line,
            )
        if isinstance(parent, yaml.MappingNode) and index is not None:
            self.lines[path] = index.start_mark.line + 1  # a value is where its key is
        elif index is not None or parent is None:
            self.lines.setdefault(where, line)
        self._paths.append(path)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._paths.pop()
        return typing.cast(yaml.Node, node)

    def _path(self, parent: yaml.Node | None, index: Any) -> str:
        if parent is None:
            return ""
        above = self._paths[-1]
        if isinstance(parent, yaml.SequenceNode):
            return f"{above}[{index}]"
        if index is None:  # a mapping key: located at its mapping
            return above
        key = index.value if isinstance(index, yaml.ScalarNode) else "<key>"
        return f"{above}.{key}" if above else str(key)


def loader_on(base: Any) -> Any:
    """A loader class: ``base`` (`SafeLoader` or `CSafeLoader`) with the bounded composer."""

    class Loader(_Bounded, base):  # type: ignore[misc]
        def __init__(self, text: str) -> None:
            base.__init__(self, text)
            self.anchors: dict[str, Any] = {}
            self.lines = {}
            self._paths = []
            self._nodes = 0

        def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep)
            except (ValueError, OverflowError) as err:  # e.g. a 5,000-digit int, 2024-13-45
                shown = repr(node.value) if isinstance(node.value, str) else node.tag
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                raise yaml.constructor.ConstructorError(
                    None, None, f"cannot read the value {shown}: {err}", node.start_mark
                ) from err

    return Loader


#: The loader definitions are read with: libyaml's parser when PyYAML has it.
_Loader = loader_on(_BASE)


def load_yaml(text: str) -> tuple[Any, dict[str, int]]:
    """The value of a single-document YAML/JSON text, and the line of each path in it.

    Raises:
        DocumentRefused: The text is not YAML, holds several documents, uses anchors or
            aliases, or nests or grows beyond the limits.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err)
        if "maximum nesting depth" in problem:  # libyaml's own cap, met while scanning ahead
            line = mark.line + 1 if mark is not None else None
            raise DocumentRefused("<root>", _TOO_DEEP, _FLATTEN, line) from None
        raise DocumentRefused(
            "<syntax>",
            f"not valid YAML/JSON: {' '.join(problem.split())}",
            "fix the syntax",
            mark.line + 1 if mark is not None else None,
        ) from None
    except (RecursionError, MemoryError) as err:  # guarded by the limits; kept as a net
        raise DocumentRefused(
            "<root>",
            f"too large or too deeply nested to read ({type(err).__name__})",
            "keep the definition small and shallow",
            None,
        ) from None
    finally:
        loader.dispose()
    return data, loader.lines
