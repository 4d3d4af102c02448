"""Typed extension slots: where an extension keeps its object on the venue or a session, by a typed key.

A :class:`Slot` names the kind of value it holds, so ``slots.get(ORDER_DESK)`` is an ``OrderDesk`` to the type
checker and at run time, where an untyped ``extras`` dict handed back ``Any`` and a misspelt key silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["ExtensionSlots", "Slot"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Slot(Generic[T]):
    """The key of one extension value: a unique name and the type the value must have."""

    name: str
    kind: type[T]


class ExtensionSlots:
    """Values keyed by :class:`Slot`, checked against the slot's type when stored."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def put(self, slot: Slot[T], value: T) -> None:
        """Store ``value`` under ``slot`` (replacing an earlier one); a value of another type is refused."""
        if not isinstance(value, slot.kind):
            raise TypeError(f"slot {slot.name!r} holds {slot.kind.__name__}, not {type(value).__name__}")
        self._values[slot.name] = value

    def get(self, slot: Slot[T]) -> T | None:
        """The value stored under ``slot``, or ``None``."""
        value = self._values.get(slot.name)
        return value if isinstance(value, slot.kind) else None

    def setdefault(self, slot: Slot[T], factory: type[T]) -> T:
        """The value under ``slot``, created with ``factory()`` the first time."""
        value = self.get(slot)
        if value is None:
            value = factory()
            self.put(slot, value)
        return value

    def require(self, slot: Slot[T], hint: str) -> T:
        """The value under ``slot``; :class:`LookupError` naming ``hint`` (how to install it) when there is none."""
        value = self.get(slot)
        if value is None:
            raise LookupError(f"nothing in slot {slot.name!r}: {hint}")
        return value

    def __contains__(self, slot: object) -> bool:
        return isinstance(slot, Slot) and self.get(slot) is not None
