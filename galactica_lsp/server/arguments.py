"""Command arguments as typed objects, read strictly from the wire.

Owns: the :func:`arguments` decorator that makes a command's argument object an
attrs class (snake_case in Python, camelCase on the wire), and the cattrs
converter the server uses (pygls's, plus a strict hook for those classes).
pygls structures each ``workspace/executeCommand`` argument into the type its
handler's parameter is annotated with; this hook checks every field's JSON
type itself (cattrs would turn ``[1]`` into the string ``"[1]"`` and ``"0"`` into
the number 0) and raises :class:`ValueError` with a sentence naming the field,
which pygls answers with ``InvalidParams``. ``null`` is never a value: a field
that may be left out is left out. No server imports: the server object uses
this converter.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import cattrs
from lsprotocol import types
from pygls.protocol import default_converter

C = TypeVar("C")
_MARK = "__galactica_arguments__"
_MAX_SHOWN = 60  # characters of a bad value repeated in an error message


def arguments(cls: type[C]) -> type[C]:
    """Make ``cls`` a command's argument object: frozen attrs class, keyword-only, read by the strict hook."""
    cls = attrs.frozen(kw_only=True)(cls)
    setattr(cls, _MARK, True)
    return cls


def wire_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def fields_of(cls: type) -> str:
    """``{uri, range, mode?}``: the object a command expects, for messages."""
    names = [wire_name(f.name) + ("" if f.default is attrs.NOTHING else "?") for f in attrs.fields(cls)]
    return "{" + ", ".join(names) + "}"


def shown(value: Any) -> str:
    """A bad value as JSON, shortened."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _bad(path: str, wanted: str, value: Any) -> ValueError:
    return ValueError(f"`{path}` must be {wanted}, got {shown(value)}")


def _uinteger(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise _bad(path, "a non-negative integer", value)
    return value


def _position(value: Any, path: str) -> types.Position:
    if not isinstance(value, dict):
        raise _bad(path, "a position {line, character}", value)
    for name in ("line", "character"):
        if name not in value:
            raise ValueError(f"`{path}.{name}` is missing")
    return types.Position(line=_uinteger(value["line"], f"{path}.line"),
                          character=_uinteger(value["character"], f"{path}.character"))


def _range(value: Any, path: str) -> types.Range:
    if not isinstance(value, dict):
        raise _bad(path, "a range {start, end}", value)
    for name in ("start", "end"):
        if name not in value:
            raise ValueError(f"`{path}.{name}` is missing")
    start, end = _position(value["start"], f"{path}.start"), _position(value["end"], f"{path}.end")
    if (end.line, end.character) < (start.line, start.character):
        raise ValueError(f"`{path}` ends before it starts")
    return types.Range(start=start, end=end)


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _bad(path, "a string", value)
    if not value.strip():
        raise ValueError(f"`{path}` must not be empty")
    return value


def _boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, "true or false", value)
    return value


_READERS: dict[Any, Callable[[Any, str], Any]] = {
    str: _string, bool: _boolean, int: _uinteger, types.Position: _position, types.Range: _range,
}


def _reader(annotation: Any) -> Callable[[Any, str], Any]:
    """The reader for a field's type; ``X | None`` reads as X (None is the default for a field left out)."""
    options = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    if len(options) != 1 or options[0] not in _READERS:
        raise TypeError(f"no strict reader for {annotation!r}")
    return _READERS[options[0]]


def structure(raw: Any, cls: type[C]) -> C:
    """``cls`` from a JSON value; :class:`ValueError` naming the first bad field."""
    if not isinstance(raw, dict):
        raise ValueError(f"expected one object {fields_of(cls)}, got {_kind(raw)}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in attrs.fields(cls):
        name = wire_name(f.name)
        if name not in raw:
            if f.default is attrs.NOTHING:
                raise ValueError(f"`{name}` is missing (expected {fields_of(cls)})")
            continue
        if raw[name] is None:
            raise ValueError(f"`{name}` must not be null" + ("; leave it out" if f.default is not attrs.NOTHING else ""))
        values[f.name] = _reader(hints[f.name])(raw[name], name)
    try:
        return cls(**values)
    except ValueError:
        raise
    except TypeError as exc:  # a validator's complaint
        raise ValueError(str(exc)) from None


def one_of(options: tuple[str, ...]) -> Callable[[Any, attrs.Attribute, Any], None]:
    """An attrs validator: the value is one of ``options`` (message names the field)."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value not in options:
            raise ValueError(f"`{wire_name(attribute.name)}` must be one of {', '.join(options)}, got {shown(value)}")

    return check


def converter() -> cattrs.Converter:
    """pygls's converter, reading the command argument classes strictly (the server's ``converter_factory``)."""
    c = default_converter()
    c.register_structure_hook_func(lambda t: isinstance(t, type) and getattr(t, _MARK, False), structure)
    return c
