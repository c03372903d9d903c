"""Hostile definition texts, generated (multi-megabyte files are never committed)."""

from __future__ import annotations

HEAD = "name: hostile\nversion: 1\nsteps: [{name: s, action: act}]\n"


def alias_bomb() -> str:
    """A "billion laughs" file: under 1 KB, 9**9 strings once its aliases are expanded."""
    lines = ['  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        name, below = "abcdefghi"[level], "abcdefghi"[level - 1]
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{below}"] * 9) + "]")
    return HEAD + "description: bomb\ninput_schema:\n" + "\n".join(lines) + "\n"


def deep_flow(levels: int) -> str:
    """An ``input_schema`` holding ``levels`` nested flow lists on one line."""
    return HEAD + "input_schema: {x: " + "[" * levels + "]" * levels + "}\n"


def deep_block(levels: int) -> str:
    """An ``input_schema`` holding ``levels`` nested block lists (``- - - x``)."""
    return HEAD + "input_schema:\n  x:\n    " + "- " * levels + "x\n"


def nested_nots(depth: int) -> str:
    """A valid definition whose deepest value sits ``depth`` levels down.

    The root mapping is level 1 and ``input_schema`` level 2; each ``not`` adds one.
    """
    return HEAD + "input_schema: " + "{not: " * (depth - 2) + "{}" + "}" * (depth - 2) + "\n"


def many_steps(count: int, *, enum_items: int = 0, padding: int = 0) -> str:
    """A valid definition: ``count`` steps, an enum of ``enum_items``, ``padding`` more bytes."""
    steps = "".join(
        f"  - name: s{i}\n    action: act{i % 7}\n    compensation: undo{i % 7}\n"
        f"    input: input.items[{i % 50}]\n"
        for i in range(count)
    )
    enum = ", ".join(str(i) for i in range(enum_items))
    return (
        f"name: big\nversion: 1\ndescription: {'x' * padding}\n"
        f"input_schema: {{enum: [{enum}]}}\nsteps:\n{steps}"
    )


def remote_ref(url: str) -> str:
    """A definition whose ``input_schema`` refers to a schema at ``url``."""
    return (
        "name: remote\nversion: 1\ninput_schema:\n  type: object\n  properties:\n"
        f'    a: {{"$ref": "{url}"}}\nsteps: [{{name: s, action: act}}]\n'
    )


def line_of(text: str, needle: str) -> int:
    """The 1-based line where ``needle`` first occurs in ``text``."""
    return text[: text.index(needle)].count("\n") + 1
