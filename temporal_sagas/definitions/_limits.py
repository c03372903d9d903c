"""The limits a definition must stay within, in one place (docs/authoring.md lists them).

A definition is configuration written by people, so each limit sits far above what a
real one needs; what they stop is a file that would hurt the process reading it: a
worker at start-up, ``sagas validate``, ``register_definition``. Every check happens
before the part of the file it guards is built in memory.
"""

from __future__ import annotations

#: The largest definition file, in bytes of UTF-8. A thousand-step definition with a
#: generous ``input_schema`` is about 200 KB.
MAX_DEFINITION_BYTES = 1024 * 1024

#: How deep mappings and lists may nest. The definition's own fields reach 5 levels;
#: the rest is room for a nested ``input_schema``.
MAX_DEFINITION_DEPTH = 32

#: How many values (scalars, mappings and lists) a definition may hold in all.
MAX_DEFINITION_NODES = 100_000

#: How many steps a saga may have. Each step adds at least three events to the
#: saga's history, and its compensation three more; Temporal ends a history at 51,200.
MAX_STEPS = 1000
