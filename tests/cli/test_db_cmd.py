from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from quantdesk.cli import db_cmd, main
from quantdesk.errors import ConfigError

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(main.main)
    app.add_typer(db_cmd.app, name="db")
    return app


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli" / "qd.db"
    monkeypatch.setenv("QUANTDESK__DATABASE__URL", f"sqlite:///{path}")
    return path


def _json(app: typer.Typer, *args: str) -> dict[str, object]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return doc


def test_current_on_an_empty_database(app: typer.Typer, db_file: Path) -> None:
    doc = _json(app, "db", "current", "--json")
    assert doc["current"] is None
    assert doc["head"] == "0002"
    assert doc["up_to_date"] is False


def test_upgrade_then_current_reports_head(app: typer.Typer, db_file: Path) -> None:
    doc = _json(app, "db", "upgrade", "--json")
    assert doc == {"database": f"sqlite:///{db_file}", "from": None, "to": "0002", "head": "0002"}
    assert db_file.exists()
    assert _json(app, "db", "current", "--json")["up_to_date"] is True
    again = _json(app, "db", "upgrade", "--json")
    assert again["from"] == again["to"] == "0002"


def test_history_json_marks_current(app: typer.Typer, db_file: Path) -> None:
    _json(app, "db", "upgrade", "--json")
    doc = _json(app, "db", "history", "--json")
    migrations = doc["migrations"]
    assert isinstance(migrations, list)
    newest = next(m for m in migrations if m["revision"] == "0002")
    assert newest["current"] is True
    assert newest["head"] is True


def test_text_output(app: typer.Typer, db_file: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0
    assert "empty -> 0002" in result.output
    result = runner.invoke(app, ["db", "current"])
    assert "0002" in result.output
    assert "up to date" in result.output
    result = runner.invoke(app, ["db", "history"])
    assert "0002" in result.output
    assert "Initial schema" in result.output


def test_default_url_is_sqlite_in_the_data_dir(app: typer.Typer, tmp_path: Path) -> None:
    doc = _json(app, "db", "upgrade", "--json")
    assert str(doc["database"]).startswith("sqlite:///")
    assert "qd-data" in str(doc["database"])


def test_unsupported_url_is_one_error_line(app: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK__DATABASE__URL", "mysql://u@h/db")
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)  # main.run prints it as one line
    assert result.exception.field == "database.url"
    assert "not supported" in str(result.exception)
