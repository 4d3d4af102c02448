"""``sandbox_settings``: the demo's and the examples' settings point every file away from the user's records."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantdesk.config import Settings
from quantdesk.errors import ConfigError
from quantdesk.services.sandbox import gateway_data_dir, sandbox_settings


def user_settings(tmp_path: Path) -> Settings:
    """A user who trades live at IB into PostgreSQL, with an account of their own."""
    return Settings.model_validate(
        {
            "mode": "live",
            "paths": {"data_dir": str(tmp_path / "mine")},
            "database": {"url": "postgresql+psycopg://me@db.example/trading"},
            "ib": {"account": "U1234567"},
        }
    )


def test_a_sandbox_has_its_own_directory_database_and_paper_account(tmp_path: Path) -> None:
    mine = user_settings(tmp_path)
    demo = sandbox_settings(mine, "demo")
    root = (tmp_path / "mine" / "demo").resolve()
    assert Path(demo.paths.data_dir) == root
    assert root.is_dir()
    assert demo.database.url == f"sqlite:///{root.as_posix()}/quantdesk.db"
    assert demo.mode == "paper"
    assert demo.ib.account is None
    assert gateway_data_dir(demo.paths.data_dir) == root / "gateway"
    assert mine.database.url.startswith("postgresql")  # the user's settings are left as they were
    assert mine.mode == "live"
    other = sandbox_settings(mine, "demo", tmp_path / "elsewhere")
    assert Path(other.paths.data_dir) == (tmp_path / "elsewhere").resolve()


def test_the_users_own_data_directory_is_refused_naming_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        sandbox_settings(user_settings(tmp_path), "demo", tmp_path / "mine")
    assert exc.value.field == "--data-dir"
    assert "your own data directory" in str(exc.value)
