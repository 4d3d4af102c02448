"""Progress a person sees during long work: a spinner while a command works, a bar over counted steps.

Both draw only on a terminal (nothing in pipes, files, tests or ``--json`` output) and vanish when done, so what a
command prints afterwards is unchanged. Both use the stdout console that :mod:`quantdesk.cli.output` prints to, so
lines printed meanwhile appear above the spinner instead of through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from quantdesk.cli import output

__all__ = ["steps", "working"]


@contextlib.contextmanager
def working(message: str, *, enabled: bool = True, console: Console | None = None) -> Iterator[None]:
    """Show ``message`` with a spinner while the block runs (when ``enabled`` and printing to a terminal)."""
    screen = console if console is not None else output.console
    if not enabled or not screen.is_terminal:
        yield
        return
    with screen.status(message):
        yield


@contextlib.contextmanager
def steps(
    message: str, total: int | None = None, *, enabled: bool = True, console: Console | None = None
) -> Iterator[Callable[[int, int], None]]:
    """A progress bar for ``message``; the block gets ``advance(done, total)`` to call as steps complete."""
    screen = console if console is not None else output.console
    if not enabled or not screen.is_terminal:
        yield lambda done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=screen, transient=True) as bar:
        task = bar.add_task(message, total=total)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
