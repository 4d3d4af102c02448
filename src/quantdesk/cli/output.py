"""How every command prints: rich tables for people, one JSON document with ``--json`` for scripts, errors as one
red line with the hint (``--verbose`` adds the traceback)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quantdesk.errors import QuantdeskError

__all__ = ["CliState", "Output", "error_line", "to_jsonable"]

console = Console()
# soft_wrap keeps an error on one line even when stderr is not a terminal (CI logs, pipes).
err_console = Console(stderr=True, soft_wrap=True)


@dataclass
class CliState:
    """Options given before the sub-command: config file, environment name, overrides, verbosity."""

    config_path: Path | None = None
    env: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    verbose: bool = False


def to_jsonable(value: Any) -> Any:
    """Turn domain values (Decimal, datetime, enums, dataclasses, paths) into JSON-ready data."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump())
    if isinstance(value, Iterable):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return to_jsonable(value.item())
    return str(value)


class Output:
    """Prints a command's result either as rich text or, with ``--json``, as one JSON document on stdout."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def table(
        self,
        title: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        json_key: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Print rows as a table, or as ``{json_key: [{column: value}], **extra}`` in JSON mode."""
        materialised = [list(r) for r in rows]
        if self.as_json:
            doc: dict[str, Any] = {json_key or "rows": [dict(zip(columns, r, strict=True)) for r in materialised]}
            if extra:
                doc.update(extra)
            self.json(doc)
            return
        t = Table(title=title)
        for c in columns:
            t.add_column(c, overflow="fold")
        for r in materialised:
            t.add_row(*[escape(_cell(v)) for v in r])
        console.print(t)

    def json(self, document: Any) -> None:
        """Write one JSON document to stdout."""
        sys.stdout.write(json.dumps(to_jsonable(document), indent=2) + "\n")
        sys.stdout.flush()

    def result(self, document: Mapping[str, Any], text: str | None = None) -> None:
        """A result: JSON document with ``--json``, else ``text`` (or key: value lines)."""
        if self.as_json:
            self.json(document)
        elif text is not None:
            console.print(text)
        else:
            for k, v in document.items():
                console.print(f"[bold]{escape(str(k))}[/bold]: {escape(_cell(v))}")

    def message(self, text: str) -> None:
        """Human-only text (progress, notes); suppressed with ``--json`` so stdout stays one document."""
        if not self.as_json:
            console.print(text)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4f}"
    if isinstance(v, Decimal):
        return f"{v:,}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S%z")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Enum):
        return str(v.value)
    return "" if v is None else str(v)


def error_line(exc: BaseException) -> str:
    """One line for the user: what went wrong, at which field, and the fix."""
    if isinstance(exc, QuantdeskError):
        return f"error: {exc}"
    return f"error: {type(exc).__name__}: {exc}"
