"""Strict validation of plain data into frozen dataclasses, with errors named by their path.

Why not pydantic: the org rules are loaded on every Lambda cold start, and importing
pydantic and building its models cost about as much as `import boto3` itself (see
benchmarks/cold_init.py). The config needs a small, strict subset, done here on the
standard library only:

- fields are dataclass fields with type hints: `str`, `bool`, `int`, `Literal[...]`,
  `tuple[T, ...]`, `dict[K, V]`, `T | None`, nested dataclasses;
- `Annotated[T, Check(fn)]` runs `fn(value)` after the type check (it returns the value to
  keep, or raises ValueError with a message); `Annotated[T, Before(fn)]` runs before it;
- `Annotated[tuple[...], MinItems(n)]` requires at least n items;
- unknown keys are errors that list the allowed ones; missing fields without a default are
  "required"; nothing is coerced (YAML's `1` is not a string).

`build(cls, data)` raises `SchemaError` with every problem found, each `path: message`,
paths like `rules.admin-policy.policies.AmazonEKSClusterAdminPolicy.allow[2]`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Literal, Union

_MISSING = dataclasses.MISSING


@dataclass(frozen=True)
class Check:
    """Runs after the type check: returns the (possibly normalised) value or raises ValueError."""

    fn: Callable[[Any], Any]


@dataclass(frozen=True)
class Before:
    """Runs before the type check (e.g. YAML's `off` read as false)."""

    fn: Callable[[Any], Any]


@dataclass(frozen=True)
class MinItems:
    count: int


class SchemaError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def key_of(field: dataclasses.Field) -> str:
    """The key a field has in the data (`metadata={"key": "admin-policy"}`), else its name."""
    return field.metadata.get("key", field.name)


def build(cls: type, data: Any) -> Any:
    problems: list[str] = []
    value = _convert(cls, data, "", problems)
    if problems:
        raise SchemaError(problems)
    return value


def dump(instance: Any, *, skip_defaults: bool = False) -> Any:
    """Plain JSON-ready data again (keys as in the data); `build(type(x), dump(x)) == x`."""
    if dataclasses.is_dataclass(instance):
        out = {}
        for field in dataclasses.fields(instance):
            value = getattr(instance, field.name)
            if skip_defaults and value == _default(field):
                continue
            out[key_of(field)] = dump(value, skip_defaults=skip_defaults)
        return out
    if isinstance(instance, (tuple, list)):
        return [dump(v, skip_defaults=skip_defaults) for v in instance]
    if isinstance(instance, dict):
        return {k: dump(v, skip_defaults=skip_defaults) for k, v in instance.items()}
    return instance


def _default(field: dataclasses.Field) -> Any:
    if field.default is not _MISSING:
        return field.default
    if field.default_factory is not _MISSING:  # type: ignore[misc]
        return field.default_factory()  # type: ignore[misc]
    return _MISSING


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def _where(path: str) -> str:
    return path or "(top level)"


_HINTS: dict[type, dict[str, Any]] = {}


def hints(cls: type) -> dict[str, Any]:
    """Resolved field types (each base class's annotations in its own module's namespace)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, include_extras=True)
    return _HINTS[cls]


def _convert(tp: Any, value: Any, path: str, problems: list[str]) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(tp)
        for extra in extras:
            if isinstance(extra, Before):
                try:
                    value = extra.fn(value)
                except ValueError as error:
                    problems.append(f"{_where(path)}: {error}")
                    return value
        before = len(problems)
        result = _convert(base, value, path, problems)
        if len(problems) > before:
            return result
        for extra in extras:
            if isinstance(extra, MinItems) and len(result) < extra.count:
                problems.append(f"{_where(path)}: at least {extra.count} item(s) required")
                return result
            if isinstance(extra, Check):
                try:
                    result = extra.fn(result)
                except ValueError as error:
                    problems.append(f"{_where(path)}: {error}")
                    return result
        return result
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None and len(options) < len(typing.get_args(tp)):
            return None
        return _convert(options[0], value, path, problems)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed or isinstance(value, bool) != any(isinstance(a, bool) for a in allowed):
            listed = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}" if len(allowed) > 1 else repr(allowed[0])
            problems.append(f"{_where(path)}: expected {listed}, got {value!r}")
        return value
    if origin in (tuple, list):
        (item_type, *_rest) = typing.get_args(tp)
        if not isinstance(value, list):
            problems.append(f"{_where(path)}: expected a list, got {value!r}")
            return ()
        return tuple(_convert(item_type, item, _join(path, i), problems) for i, item in enumerate(value))
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        if not isinstance(value, dict):
            problems.append(f"{_where(path)}: expected a mapping, got {value!r}")
            return {}
        out = {}
        for key, item in value.items():
            item_path = _join(path, str(key))
            before = len(problems)
            converted_key = _convert(key_type, key, item_path, problems)
            if len(problems) == before:
                out[converted_key] = _convert(value_type, item, item_path, problems)
        return out
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, value, path, problems)
    if tp is bool:
        if not isinstance(value, bool):
            problems.append(f"{_where(path)}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{_where(path)}: expected a whole number, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            problems.append(f"{_where(path)}: expected a string, got {value!r}")
        return value
    if tp is Any:
        return value
    raise TypeError(f"schema: unsupported type {tp!r} at {_where(path)}")


def _convert_dataclass(cls: type, value: Any, path: str, problems: list[str]) -> Any:
    if not isinstance(value, dict):
        problems.append(f"{_where(path)}: expected a mapping, got {value!r}")
        return None
    fields = {key_of(f): f for f in dataclasses.fields(cls) if f.init}
    for key in value:
        if key not in fields:
            problems.append(f"{_where(_join(path, str(key)))}: unknown key; allowed here: {', '.join(fields)}")
    kwargs = {}
    before = len(problems)
    field_hints = hints(cls)
    for key, field in fields.items():
        if key in value:
            kwargs[field.name] = _convert(field_hints[field.name], value[key], _join(path, key), problems)
        elif _default(field) is _MISSING:
            problems.append(f"{_where(_join(path, key))}: required")
    if len(problems) > before:
        return None
    try:
        return cls(**kwargs)
    except ValueError as error:  # __post_init__ checks across fields
        problems.append(f"{_where(path)}: {error}")
        return None
