"""The one interface every bar source implements, and the registry that names them.

A source turns somewhere bars live (a bundled sample, a user's file, IB's historical data) into bar frames (see
:mod:`quantdesk.data.schema`), keyed by symbol. Sources are registered by name with a zero-argument factory, so
that listing them costs nothing and a source is built only when it is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

import pandas as pd

from quantdesk.data.schema import TimeBound
from quantdesk.errors import DataError, NotFound

__all__ = ["BarSource", "available_sources", "get_source", "register_source", "unregister_source"]


@runtime_checkable
class BarSource(Protocol):
    """Where bars come from: a name, the symbols it offers and a way to load them as bar frames."""

    @property
    def name(self) -> str:
        """A stable name such as ``sample:sp500`` or ``csv:prices.csv``; it is recorded as the store's source."""
        ...

    def symbols(self) -> list[str]:
        """The symbols this source can load."""
        ...

    def load(
        self, symbols: Iterable[str] | None = None, start: TimeBound = None, end: TimeBound = None
    ) -> dict[str, pd.DataFrame]:
        """Bar frames keyed by symbol (all symbols when ``symbols`` is ``None``), between ``start`` and ``end``."""
        ...


_REGISTRY: dict[str, Callable[[], BarSource]] = {}


def register_source(name: str, factory: Callable[[], BarSource], *, replace: bool = False) -> None:
    """Register a factory under ``name``; registering a taken name needs ``replace=True``."""
    if not name or not name.strip():
        raise DataError("a source needs a name", field="name", hint="pass a name such as 'csv:prices'")
    if name in _REGISTRY and not replace:
        raise DataError(
            f"a source named {name!r} is already registered",
            field="name",
            value=name,
            hint="choose another name or pass replace=True",
        )
    _REGISTRY[name] = factory


def unregister_source(name: str) -> None:
    """Remove a registered source (a no-op when it is not registered)."""
    _REGISTRY.pop(name, None)


def available_sources() -> list[str]:
    """Registered source names, sorted."""
    return sorted(_REGISTRY)


def get_source(name: str) -> BarSource:
    """Build the source registered under ``name``; ``NotFound`` lists the registered names."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise NotFound(
            f"no bar source named {name!r}",
            field="source",
            value=name,
            hint="registered sources: " + (", ".join(available_sources()) or "none"),
        ) from None
    return factory()
