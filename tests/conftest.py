"""Suite-wide fixtures: keep every test away from the user's real data directory and config."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_quantdesk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the data directory at a per-test temp dir and drop any QUANTDESK_* settings of the caller."""
    import os

    for key in list(os.environ):
        if key.startswith("QUANTDESK"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("QUANTDESK__PATHS__DATA_DIR", str(tmp_path / "qd-data"))
