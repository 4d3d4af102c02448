"""Reusable field types and helpers of the settings models: lists from text, secrets, paths, hints, rule errors.

A validation rule raises :func:`rule_error` so that the message, the fix and (for a cross-field rule) the key at
fault travel to :mod:`quantdesk.config.diagnostics`, which turns them into one ``ConfigError`` line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr
from pydantic_core import PydanticCustomError

__all__ = [
    "PORT_HINT",
    "RULE_ERROR",
    "DirPath",
    "Host",
    "OptionalDirPath",
    "OptionalSecret",
    "StrList",
    "SymbolList",
    "default_data_dir",
    "default_database_url",
    "expand_path",
    "fraction_field",
    "hint",
    "lower",
    "rule_error",
    "seconds_field",
    "upper",
]

RULE_ERROR = "quantdesk_rule"
"""The pydantic error type of :func:`rule_error`."""


def rule_error(message: str, hint: str, key: str = "", value: Any = None) -> PydanticCustomError:
    """A validation error that carries its own fix (and, for cross-field rules, the key at fault) to the loader."""
    return PydanticCustomError(RULE_ERROR, message, {"hint": hint, "key": key, "value": value})


def hint(text: str) -> dict[str, Any]:
    """``json_schema_extra`` carrying the fix that a bad value of this field gets."""
    return {"hint": text}


# ---- reusable field types -------------------------------------------------------------------------------------


def _split_list(value: Any) -> Any:
    """Accept ``["A", "B"]`` (JSON) or ``A,B`` for list fields given as text by env vars and overrides."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return ()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise rule_error("is not a valid JSON list", 'write ["A", "B"] with double quotes, or plain A,B') from None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _empty_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def lower(value: Any) -> Any:
    """Lower-case text (enum-like values are case-insensitive)."""
    return value.strip().lower() if isinstance(value, str) else value


def upper(value: Any) -> Any:
    """Upper-case text (enum-like values are case-insensitive)."""
    return value.strip().upper() if isinstance(value, str) else value


def expand_path(path: Path) -> Path:
    """Expand ``~`` and ``$VARS``."""
    return Path(os.path.expandvars(str(path))).expanduser()


def _upper_all(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip().upper() for v in values)


StrList = Annotated[tuple[str, ...], BeforeValidator(_split_list)]
SymbolList = Annotated[tuple[str, ...], BeforeValidator(_split_list), AfterValidator(_upper_all)]
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_empty_to_none)]
DirPath = Annotated[Path, AfterValidator(expand_path)]
OptionalDirPath = Annotated[
    Path | None, BeforeValidator(_empty_to_none), AfterValidator(lambda p: None if p is None else expand_path(p))
]


def _non_empty_host(value: str) -> str:
    host = value.strip()
    if not host:
        raise rule_error("must not be empty", "write a host name or IP address, e.g. 127.0.0.1")
    return host


Host = Annotated[str, AfterValidator(_non_empty_host)]

PORT_HINT = "use a TCP port between 1 and 65535"
_FRACTION_HINT = "write a fraction in (0, 1], e.g. 0.05 for 5%"
_SECONDS_HINT = "write a positive number of seconds"


def fraction_field(default: float) -> Any:
    """A field holding a fraction in (0, 1]."""
    return Field(default, gt=0, le=1, json_schema_extra=hint(_FRACTION_HINT))


def seconds_field(default: float) -> Any:
    """A field holding a positive duration in seconds."""
    return Field(default, gt=0, json_schema_extra=hint(_SECONDS_HINT))


def default_data_dir() -> Path:
    """``~/.quantdesk``, expanded: where the database, bar store and logs live unless ``paths.data_dir`` says."""
    return Path("~/.quantdesk").expanduser()


def default_database_url(data_dir: Path) -> str:
    """The SQLite database inside ``data_dir``: ``sqlite:///<data_dir>/quantdesk.db``."""
    return f"sqlite:///{(data_dir / 'quantdesk.db').as_posix()}"
