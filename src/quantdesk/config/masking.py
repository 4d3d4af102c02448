"""Masking of secrets for display: the one place that decides what a shown secret looks like."""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

__all__ = ["MASK", "looks_secret", "mask_url", "mask_value"]

MASK = "**********"
"""What every secret shows as; the same string pydantic's ``SecretStr`` prints."""

_URL_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@]*):(?P<password>[^@/]*)@")
_SECRET_WORDS = ("password", "passwd", "secret", "token", "auth", "api_key", "apikey", "credential")


def mask_url(url: str) -> str:
    """Hide the password of ``scheme://user:password@host/…``; other URLs come back unchanged."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", url, count=1)


def looks_secret(name: str) -> bool:
    """Whether a key name (``password``, ``auth_token``, ``secret_key``…) suggests its value is a secret."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def mask_value(value: Any) -> Any:
    """A display-safe stand-in for a secret value: the mask when set, the value itself when empty or ``None``."""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if value is None or value == "":
        return value
    return MASK
