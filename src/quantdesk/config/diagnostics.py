"""Turning pydantic's validation errors into one ``ConfigError`` line: the dotted key, the value, where it came
from, and the fix (for an unknown key, the closest valid one)."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from quantdesk.config.fields import RULE_ERROR
from quantdesk.config.masking import MASK, looks_secret, mask_url
from quantdesk.config.settings import Settings
from quantdesk.errors import ConfigError

__all__ = ["FILE_ONLY_KEYS", "config_error_from", "dotted", "source_of", "suggest_key"]

FILE_ONLY_KEYS = ("default_env", "env")
"""Top-level keys a config file may hold besides the settings sections."""

_MAX_REPR = 80

_TYPE_HINTS = {
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "int_from_float": "write a whole number",
    "float_parsing": "write a number",
    "float_type": "write a number",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "string_type": "write text (quoted in TOML)",
    "string_too_short": "write a non-empty value",
    "too_short": "write a non-empty value",
    "model_type": "write a section of key = value pairs",
    "model_attributes_type": "write a section of key = value pairs",
    "dict_type": "write a section of key = value pairs",
    "tuple_type": 'write a list: ["A", "B"] in a file, A,B in an env var or --set',
    "list_type": 'write a list: ["A", "B"] in a file, A,B in an env var or --set',
    "path_type": "write a file system path",
}
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def dotted(loc: Sequence[str | int]) -> str:
    """``("risk", "restricted_symbols", 0)`` → ``risk.restricted_symbols[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def source_of(key: str, sources: Mapping[str, str]) -> str:
    """Where ``key`` (dotted) was set: itself, else a key beneath it, else the section above it, else default."""
    if key in sources:
        return sources[key]
    for k, v in sources.items():
        if k.startswith(key + "."):
            return v
    parts = key.split(".")
    for n in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in sources:
            return sources[prefix]
    return "default"


def suggest_key(name: str, valid: Sequence[str]) -> str | None:
    """The valid key closest to ``name``, or ``None`` when nothing is close."""
    close = difflib.get_close_matches(name.lower(), list(valid), n=1, cutoff=0.6)
    return close[0] if close else None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _mentions_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return False
    return any(_mentions_secret(arg) for arg in typing.get_args(annotation))


def _field_at(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[FieldInfo | None, bool]:
    """The field a location points at (or the deepest field it passes through) and whether it resolved fully."""
    current: type[BaseModel] | None = model
    info: FieldInfo | None = None
    for part in loc:
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return info, False
        info = current.model_fields[part]
        current = _model_in(info.annotation)
    return info, True


def _valid_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or not isinstance(part, str) or part not in current.model_fields:
            return []
        current = _model_in(current.model_fields[part].annotation)
    if current is None:
        return []
    keys = list(current.model_fields)
    if current is Settings:
        keys += list(FILE_ONLY_KEYS)
    return keys


def _shown(value: Any, sensitive: bool) -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if sensitive and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        value = mask_url(value)
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 1] + "…"


def _hint_for(err: Mapping[str, Any], info: FieldInfo | None, exact: bool) -> str | None:
    ctx = err.get("ctx") or {}
    if err["type"] == RULE_ERROR and ctx.get("hint"):
        return str(ctx["hint"])
    extra = info.json_schema_extra if (info is not None and exact) else None
    if isinstance(extra, dict) and extra.get("hint"):
        return str(extra["hint"])
    if err["type"] == "literal_error" and "expected" in ctx:
        return f"use one of {ctx['expected']}"
    if err["type"] in _BOUNDS:
        name, symbol = _BOUNDS[err["type"]]
        return f"write a value {symbol} {ctx.get(name)}"
    return _TYPE_HINTS.get(err["type"])


def _loc_of(err: Mapping[str, Any]) -> tuple[str | int, ...]:
    """The error's location, extended by the key a cross-field rule blames."""
    loc: tuple[str | int, ...] = tuple(err["loc"])
    ctx = err.get("ctx") or {}
    if err["type"] == RULE_ERROR and ctx.get("key"):
        loc = (*loc, str(ctx["key"]))
    return loc


_MISSING = object()


def _raw_at(data: Any, loc: Sequence[str | int]) -> Any:
    """The value as given (before any normalising validator) at ``loc`` of the raw input, if it is there."""
    for part in loc:
        if isinstance(part, str):
            if not (isinstance(data, Mapping) and part in data):
                return _MISSING
            data = data[part]
        else:
            if not (isinstance(data, list | tuple) and -len(data) <= part < len(data)):
                return _MISSING
            data = data[part]
    return data


def _describe(
    err: Mapping[str, Any], sources: Mapping[str, str], model: type[BaseModel], data: Any = None
) -> ConfigError:
    loc = _loc_of(err)
    ctx = err.get("ctx") or {}
    raw = _raw_at(data, loc) if data is not None else _MISSING
    value = err.get("input") if raw is _MISSING else raw
    if err["type"] == RULE_ERROR and ctx.get("key"):
        value = ctx.get("value") if raw is _MISSING else raw
        # a cross-field rule: when the blamed key kept its default, point at what changed in its section
        if source_of(dotted(loc), sources) == "default" and len(loc) > 1:
            loc_source = source_of(dotted(loc[:-1]), sources)
            sources = {**sources, dotted(loc): loc_source}
    key = dotted(loc) or "(config)"
    source_key = ".".join(p for p in loc if isinstance(p, str))
    source = source_of(source_key, sources)
    info, exact = _field_at(model, loc)
    last = loc[-1] if loc else ""
    sensitive = (info is not None and _mentions_secret(info.annotation)) or (
        isinstance(last, str) and looks_secret(last)
    )
    shown = _shown(value, sensitive)
    origin = "the default" if source == "default" else f"from {source}"

    if err["type"] == "extra_forbidden":
        valid = _valid_keys(model, loc[:-1])
        section = dotted(loc[:-1])
        prefix = f"{section}." if section else ""
        guess = suggest_key(str(last), valid)
        where = f" in [{section}]" if section else " at the top level"
        hint = (f"did you mean {prefix}{guess}? " if guess else "remove or rename it; ") + (
            f"valid keys{where}: {', '.join(valid)}"
        )
        return ConfigError(f"unknown key (value {_short(shown)} {origin})", field=key, value=shown, hint=hint)

    message = str(err.get("msg", "invalid value"))
    if err["type"] == RULE_ERROR:
        message = message.removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    hint = _hint_for(err, info, exact) or f"correct {key}"
    return ConfigError(f"{message} (got {_short(shown)}, {origin})", field=key, value=shown, hint=hint)


def config_error_from(
    exc: pydantic.ValidationError,
    sources: Mapping[str, str] | None = None,
    model: type[BaseModel] = Settings,
    data: Mapping[str, Any] | None = None,
) -> ConfigError:
    """One ``ConfigError`` for a pydantic ``ValidationError``: the first problem in full, the others counted.

    ``sources`` maps dotted keys to where they were set; ``data`` is the raw input, to quote values as given.
    """
    errors = exc.errors(include_url=False)
    first = _describe(errors[0], sources or {}, model, data)
    if len(errors) > 1:
        others = [dotted(_loc_of(e)) or "(config)" for e in errors[1:]]
        listed = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
        first.message += f" (+{len(others)} more: {listed})"
        first.args = (first.message,)
    return first
