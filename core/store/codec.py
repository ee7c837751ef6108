"""Turn the core's frozen dataclasses into JSON-safe documents and back."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def to_doc(obj: Any) -> Any:
    """A JSON-safe value for a dataclass, enum, datetime, tuple, dict or scalar."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_doc(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, (list, tuple)):
        return [to_doc(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_doc(v) for k, v in obj.items()}
    return obj


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    """Rebuild a dataclass from `to_doc` output; unknown keys are ignored, missing ones default."""
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in doc:
            kwargs[f.name] = _decode(hints[f.name], doc[f.name])
    return cls(**kwargs)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(args[0], value) if len(args) == 1 else value
    if origin is tuple:
        items = typing.get_args(tp)
        inner = items[0] if items else Any
        return tuple(_decode(inner, v) for v in value)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return [_decode(inner, v) for v in value]
    if origin is dict:
        _, inner = typing.get_args(tp)
        return {k: _decode(inner, v) for k, v in value.items()}
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return from_doc(tp, value)
        if issubclass(tp, Enum):
            return tp(value)
        if issubclass(tp, datetime):
            return datetime.fromisoformat(value)
        if tp is float:
            return float(value)
    return value
