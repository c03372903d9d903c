"""Build a stand-in value of a declared type, for stubbed activities' results."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import types
import typing
import uuid
from typing import Any

from pydantic import BaseModel

__all__ = ["placeholder"]

_SIMPLE: dict[Any, Any] = {
    str: "",
    int: 0,
    float: 0.0,
    bool: False,
    bytes: b"",
    decimal.Decimal: decimal.Decimal(0),
    datetime.datetime: datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC),
    datetime.date: datetime.date(2000, 1, 1),
    datetime.timedelta: datetime.timedelta(0),
    uuid.UUID: uuid.UUID(int=0),
}


def placeholder(tp: Any) -> Any:
    """A value of type ``tp``: field defaults where declared, else zero values.

    Pydantic models and dataclasses are built field by field; ``Optional`` gives None,
    a ``Literal`` its first value, an enum its first member, containers empty ones.
    """
    if tp is None or tp is type(None) or tp is Any:
        return None
    if tp in _SIMPLE:
        return _SIMPLE[tp]
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        return None if type(None) in args else placeholder(args[0])
    if origin is typing.Annotated:
        return placeholder(args[0])
    if origin in (list, set, frozenset, tuple, dict) or tp in (list, set, frozenset, tuple, dict):
        return (origin or tp)()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(iter(tp))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        values = {
            name: placeholder(f.annotation)
            for name, f in tp.model_fields.items()
            if f.is_required()
        }
        return tp(**values)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        hints = typing.get_type_hints(tp)
        return tp(
            **{
                f.name: placeholder(hints[f.name])
                for f in dataclasses.fields(tp)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            }
        )
    return tp()
