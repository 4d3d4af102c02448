"""Suite-wide fixtures: keep every test away from the user's real data directory and config, and the ``ib_async``
error guard the gateway and IB adapter tests run under.

The guard is the safety net the wire protocol needs: ``ib_async.Decoder`` does not raise on a malformed message, it
logs "Error handling fields" and the awaiting request hangs. So any ERROR record of ``ib_async.Decoder`` fails the
test; ERROR records of the other ``ib_async`` loggers (the wrapper logs every IB error code, the client logs
disconnects) fail it too unless the test declared them with ``ib_errors.allow(pattern)``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["db_fixtures", "store_backends"]

DROPPED = (r"Peer closed connection", r"Connection reset by peer", r"Connection lost", r"\[Errno", r"Socket disconnect")
REFUSED = (r"API connection failed", r"Make sure API port")


class IbErrorGuard(logging.Handler):
    """Collects ERROR records of the ``ib_async`` loggers; decoder errors are allowed only when expected."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._allowed: list[re.Pattern[str]] = []
        self._expect_decoder_errors = False

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def allow(self, *patterns: str) -> None:
        """Expect ERROR records (not from the decoder) whose message matches any of ``patterns``."""
        self._allowed += [re.compile(p) for p in patterns]

    def allow_drops(self) -> None:
        """Expect the records ``ib_async`` logs when the socket goes."""
        self.allow(*DROPPED)

    def allow_refused(self) -> None:
        """Expect the records ``ib_async`` logs when a connection attempt fails."""
        self.allow(*REFUSED)

    def expect_decoder_errors(self) -> None:
        """For the test that proves the guard works: decoder errors are the expected outcome."""
        self._expect_decoder_errors = True

    def decoder_errors(self) -> list[logging.LogRecord]:
        """Records logged by ``ib_async.Decoder``."""
        return [r for r in self.records if r.name == "ib_async.Decoder"]

    def unexpected(self) -> list[str]:
        """Messages of the records the test did not allow."""
        bad = []
        for r in self.records:
            msg = r.getMessage()
            if r.name == "ib_async.Decoder":
                if not self._expect_decoder_errors:
                    bad.append(f"{r.name}: {msg}")
            elif not any(p.search(msg) for p in self._allowed):
                bad.append(f"{r.name}: {msg}")
        return bad


@pytest.fixture
def ib_errors() -> Iterator[IbErrorGuard]:
    """Fail the test on ERROR records of ``ib_async`` (see the module docstring); autouse where ib_async runs."""
    guard = IbErrorGuard()
    logger = logging.getLogger("ib_async")
    logger.addHandler(guard)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.ERROR:
        logger.setLevel(logging.ERROR)
    try:
        yield guard
    finally:
        logger.removeHandler(guard)
        logger.setLevel(previous)
    bad = guard.unexpected()
    if bad:
        pytest.fail("ib_async logged errors:\n" + "\n".join(bad[:20]), pytrace=False)


@pytest.fixture(autouse=True)
def _isolated_quantdesk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the data directory at a per-test temp dir and drop any QUANTDESK_* settings of the caller."""
    import os

    for key in list(os.environ):
        if key.startswith("QUANTDESK"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("QUANTDESK__PATHS__DATA_DIR", str(tmp_path / "qd-data"))
    # Settings() built without the loader defaults to ~/.quantdesk: keep that inside the test's temp dir too.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
