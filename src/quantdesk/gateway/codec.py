"""The TWS-API wire format: framing, field encoding, the handshake and a cursor over a request's fields.

Every message, both ways, is a 4-byte big-endian length followed by NUL-terminated text fields (the last field
ends with a NUL too). The only exception is the very first thing a client sends: the raw bytes ``API\\0`` and then
one framed, *unterminated* version range such as ``v157..178`` (optionally followed by connect options).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

__all__ = [
    "API_PREFIX",
    "MAX_MESSAGE_SIZE",
    "SERVER_VERSION",
    "UNSET",
    "UNSET_DOUBLE",
    "UNSET_INTEGER",
    "FrameDecoder",
    "ProtocolError",
    "Request",
    "VersionRange",
    "encode_field",
    "encode_fields",
    "frame",
    "parse_version_range",
    "split_fields",
]

API_PREFIX = b"API\0"
SERVER_VERSION = 178
MAX_MESSAGE_SIZE = 16 * 1024 * 1024
UNSET_INTEGER = 2**31 - 1
UNSET_DOUBLE = 1.7976931348623157e308

_LENGTH = struct.Struct(">I")


class _Unset(Enum):
    """Marker for a field TWS leaves empty (an unset int or double)."""

    UNSET = "UNSET"


UNSET = _Unset.UNSET


class ProtocolError(Exception):
    """The peer sent bytes that do not follow the TWS-API wire format."""


def encode_field(value: object) -> str:
    """One field as TWS writes it: bools as 1/0, unset and NaN as empty, floats in their shortest exact form."""
    if value is None or value is UNSET:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        return repr(value)
    if isinstance(value, Decimal):
        return "" if not value.is_finite() else format(value, "f")
    if isinstance(value, Enum):
        return encode_field(value.value)
    return str(value)


def encode_fields(values: Iterable[object]) -> list[str]:
    """Encode each value with :func:`encode_field`."""
    return [encode_field(v) for v in values]


def frame(fields: Sequence[str]) -> bytes:
    """A complete message: length prefix plus NUL-terminated fields."""
    payload = "".join(f + "\0" for f in fields).encode()
    return _LENGTH.pack(len(payload)) + payload


def split_fields(payload: bytes) -> list[str]:
    """The fields of one message payload (without its length prefix); the trailing empty element is dropped."""
    fields = payload.decode(errors="backslashreplace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


@dataclass(frozen=True, slots=True)
class VersionRange:
    """What a client offers in its handshake: ``v{min}..{max}`` plus optional connect options."""

    min_version: int
    max_version: int
    options: str = ""

    def negotiate(self, server_version: int = SERVER_VERSION) -> int | None:
        """The version to answer with, or ``None`` when the client needs a newer server than ours."""
        if self.min_version > server_version:
            return None
        return min(self.max_version, server_version)


def parse_version_range(payload: bytes) -> VersionRange:
    """Parse the handshake payload ``v157..178 +PACEAPI`` (or a single ``v178``)."""
    text = payload.decode(errors="replace").strip("\0 ")
    if not text.startswith("v"):
        raise ProtocolError(f"handshake must start with 'v', got {text!r}")
    head, _, options = text[1:].partition(" ")
    lo, sep, hi = head.partition("..")
    try:
        low = int(lo)
        high = int(hi) if sep else low
    except ValueError as exc:
        raise ProtocolError(f"bad version range {text!r}") from exc
    if low > high:
        raise ProtocolError(f"empty version range {text!r}")
    return VersionRange(low, high, options.strip())


class FrameDecoder:
    """Incremental parser: feed it bytes as they arrive, get back complete message payloads."""

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self._max_size = max_size

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return every payload that is now complete (possibly none)."""
        self._buffer += data
        out: list[bytes] = []
        while len(self._buffer) >= 4:
            (size,) = _LENGTH.unpack_from(self._buffer)
            if size > self._max_size:
                raise ProtocolError(f"message of {size} bytes exceeds the limit of {self._max_size}")
            if len(self._buffer) < 4 + size:
                break
            out.append(bytes(self._buffer[4 : 4 + size]))
            del self._buffer[: 4 + size]
        return out

    def feed_messages(self, data: bytes) -> list[list[str]]:
        """Like :meth:`feed` but split each payload into its fields."""
        return [split_fields(p) for p in self.feed(data)]

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buffer)


class Request:
    """A cursor over one client message's fields; ``read_*`` methods consume fields in order.

    Empty fields read as the unset value (0 for ints, 0.0 for floats, False for bools) the way TWS treats them.
    A missing field raises :class:`ProtocolError`, which the session answers with error 320.
    """

    __slots__ = ("_pos", "fields", "msg_id")

    def __init__(self, fields: Sequence[str]) -> None:
        if not fields:
            raise ProtocolError("empty message")
        self.fields = list(fields)
        try:
            self.msg_id = int(self.fields[0])
        except ValueError as exc:
            raise ProtocolError(f"message id {self.fields[0]!r} is not a number") from exc
        self._pos = 1

    @property
    def remaining(self) -> int:
        """How many fields are left to read."""
        return len(self.fields) - self._pos

    def read_str(self) -> str:
        """The next field as text."""
        if self._pos >= len(self.fields):
            raise ProtocolError(f"message {self.msg_id}: expected a field at position {self._pos}, got none")
        value = self.fields[self._pos]
        self._pos += 1
        return value

    def read_int(self, default: int = 0) -> int:
        """The next field as an int; empty reads as ``default``."""
        text = self.read_str()
        if text == "":
            return default
        try:
            return int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError as exc:
                raise ProtocolError(f"message {self.msg_id}: {text!r} is not an integer") from exc
            if not as_float.is_integer():
                raise ProtocolError(f"message {self.msg_id}: {text!r} is not an integer") from None
            return int(as_float)

    def read_float(self, default: float = 0.0) -> float:
        """The next field as a float; empty reads as ``default`` and ``Infinite`` as infinity."""
        text = self.read_str()
        if text == "":
            return default
        if text == "Infinite":
            return math.inf
        try:
            return float(text)
        except ValueError as exc:
            raise ProtocolError(f"message {self.msg_id}: {text!r} is not a number") from exc

    def read_bool(self) -> bool:
        """The next field as a bool (``1``/``0``; also ``true``/``false``)."""
        text = self.read_str().strip().lower()
        if text in ("", "0", "false"):
            return False
        if text in ("1", "true"):
            return True
        raise ProtocolError(f"message {self.msg_id}: {text!r} is not a boolean")

    def skip(self, n: int = 1) -> None:
        """Skip ``n`` fields."""
        for _ in range(n):
            self.read_str()

    def rest(self) -> list[str]:
        """All remaining fields (consumed)."""
        out = self.fields[self._pos :]
        self._pos = len(self.fields)
        return out
