"""How every command prints: rich tables for people, one JSON document with ``--json`` for scripts, errors as one
red line with the hint (``--verbose`` adds the traceback).

Tables fit the terminal without splitting a value across lines: cells never wrap (headers wrap between words),
and when the columns are wider than the terminal the blank ones go, then the least important (``Col.drop``; then
the rightmost), and one dim line names what was left out. ``Output(wide=True)`` (a command's ``--wide``) keeps
every column.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quantdesk.errors import QuantdeskError

__all__ = ["CliState", "Col", "Output", "error_line", "to_jsonable"]

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


@dataclass(frozen=True, slots=True)
class Col:
    """A table column: its header, its alignment (numbers right by default) and when it gives way to a narrow terminal.

    ``drop`` 0 keeps the column; columns with a higher ``drop`` are left out first when the table does not fit.
    ``wrap`` marks prose (a message, a reason) that may wrap between words; other cells never wrap.
    """

    header: str
    drop: int = 0
    justify: Literal["left", "right"] | None = None
    wrap: bool | None = None  # None: prose if the header says so (message, reason, …)

    @property
    def prose(self) -> bool:
        """Whether the cells may wrap between words."""
        return self.wrap if self.wrap is not None else self.header.lower() in _PROSE_HEADERS


_NUMBER = re.compile(r"^[-+−]?[\d,]*\.?\d+(?:%| [A-Z]{3})?$")
_PROSE_HEADERS = frozenset({"message", "reason", "description", "detail", "details", "hint", "note", "notes", "error"})
_PROSE_MIN = 20  # a prose column keeps at least this many cells (or its longest word) before columns give way
_GAP = 2  # between two columns: one space of padding and the (blank) column rule


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

    def __init__(self, as_json: bool, *, wide: bool = False, wide_flag: str | None = None) -> None:
        self.as_json = as_json
        self.wide = wide
        self.wide_flag = wide_flag  # the command's flag that shows every column, named when columns are left out

    def table(
        self,
        title: str,
        columns: Sequence[str | Col],
        rows: Iterable[Sequence[Any]],
        *,
        json_key: str | None = None,
        extra: Mapping[str, Any] | None = None,
        empty: str | None = None,
    ) -> None:
        """Print rows as a table, or as ``{json_key: [{column: value}], **extra}`` in JSON mode.

        With no rows and ``empty`` given, print that one line instead of an empty table.
        """
        cols = [c if isinstance(c, Col) else Col(c) for c in columns]
        materialised = [list(r) for r in rows]
        if self.as_json:
            heads = [c.header for c in cols]
            doc: dict[str, Any] = {json_key or "rows": [dict(zip(heads, r, strict=True)) for r in materialised]}
            if extra:
                doc.update(extra)
            self.json(doc)
            return
        if not materialised and empty is not None:
            console.print(escape(empty))
            return
        cells = [[_cell(v) for v in r] for r in materialised]
        natural = [max(_width(c.header, [r[i] for r in cells]), cell_len(c.header)) for i, c in enumerate(cols)]
        widths = [_width(c.header, [r[i] for r in cells], prose=c.prose) for i, c in enumerate(cols)]
        every = list(range(len(cols)))
        if not self.wide and _total(widths, every) > console.width:  # short of room: blank columns go first, unsaid
            every = [i for i in every if any(r[i] for r in cells)] or every
        shown = every if self.wide else _fitting(cols, widths, every, console.width)
        room = sum(natural) if self.wide else console.width - _total(widths, shown)
        for i in sorted(shown, key=lambda i: cols[i].prose):  # headers first, then prose, take the room left
            grow = min(max(natural[i] - widths[i], 0), max(room, 0))
            widths[i] += grow
            room -= grow
        t = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
        for i in shown:
            values = [r[i] for r in cells]
            justify = cols[i].justify or ("right" if values and all(_NUMBER.match(v) for v in values if v) else "left")
            header = "\n".join(textwrap.wrap(cols[i].header, widths[i], break_long_words=False)) or cols[i].header
            prose = cols[i].prose
            t.add_column(escape(header), justify=justify, no_wrap=not prose, overflow="fold", width=widths[i])
        for r in cells:
            t.add_row(*[escape(r[i]) for i in shown])
        saved = console.width
        console.width = max(_total(widths, shown), saved)  # --wide: as wide as it needs (pipe it to `less -S`)
        try:
            console.print(t, crop=False)
        finally:
            console.width = saved
        hidden = [cols[i].header for i in every if i not in shown]
        if hidden:
            how = f"{self.wide_flag} shows them" if self.wide_flag else "--json has them"
            console.print(f"[dim]hidden at {saved} columns: {escape(', '.join(hidden))} ({how})[/dim]")

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


def _width(header: str, values: Sequence[str], *, prose: bool = False) -> int:
    """A column's narrowest width: its widest value (prose: its longest word, at least 20), or the header's longest
    word if that is wider."""
    words = [cell_len(w) for w in header.split()] or [0]
    lines = [cell_len(line) for v in values for line in v.splitlines() or [""]]
    if prose:
        longest = max([cell_len(w) for v in values for w in v.split()] or [0])
        return max(*words, longest, min(max(lines or [0]), _PROSE_MIN))
    return max([*words, *lines])


def _total(widths: Sequence[int], shown: Sequence[int]) -> int:
    """The width of a table of the ``shown`` columns: the cells and a gap of two between columns."""
    return sum(widths[i] for i in shown) + _GAP * max(len(shown) - 1, 0)


def _fitting(cols: Sequence[Col], widths: Sequence[int], candidates: Sequence[int], room: int) -> list[int]:
    """The columns that fit in ``room``: leave out the highest ``drop`` first, then the rightmost (never the first)."""
    shown = list(candidates)
    for i in sorted((i for i in shown if cols[i].drop), key=lambda i: (-cols[i].drop, -i)):
        if _total(widths, shown) <= room:
            break
        shown.remove(i)
    while _total(widths, shown) > room and len(shown) > 1:
        shown.pop()
    return shown


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
