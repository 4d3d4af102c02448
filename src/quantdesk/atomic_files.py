"""All-or-nothing file writes, shared by every store that keeps state on disk (bar store, contract cache,
backfill coverage, gateway state): a crash leaves either the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["TEMP_PREFIX", "atomic_write", "atomic_write_json", "fsync_dir"]

TEMP_PREFIX = ".tmp-"


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable (a no-op where directories cannot be fsync'ed)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` all or nothing: temp file in the same directory, fsync, ``os.replace``, fsync the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=path.suffix)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: Path, document: Any, *, indent: int = 1) -> None:
    """Write ``document`` as sorted, indented UTF-8 JSON with :func:`atomic_write`."""
    data = json.dumps(document, indent=indent, sort_keys=True).encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))
