from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from sqlalchemy import make_url
from typer.testing import CliRunner

from quantdesk.cli import db_cmd, main
from quantdesk.errors import ConfigError

runner = CliRunner()
HEAD = "0003"  # the newest migration shipped


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
    assert doc["head"] == HEAD
    assert doc["up_to_date"] is False


def test_upgrade_then_current_reports_head(app: typer.Typer, db_file: Path) -> None:
    doc = _json(app, "db", "upgrade", "--json")
    assert doc == {"database": f"sqlite:///{db_file}", "from": None, "to": HEAD, "head": HEAD}
    assert db_file.exists()
    assert _json(app, "db", "current", "--json")["up_to_date"] is True
    again = _json(app, "db", "upgrade", "--json")
    assert again["from"] == again["to"] == HEAD


def test_history_json_marks_current(app: typer.Typer, db_file: Path) -> None:
    _json(app, "db", "upgrade", "--json")
    doc = _json(app, "db", "history", "--json")
    migrations = doc["migrations"]
    assert isinstance(migrations, list)
    newest = next(m for m in migrations if m["revision"] == HEAD)
    assert newest["current"] is True
    assert newest["head"] is True


def test_text_output(app: typer.Typer, db_file: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0
    assert f"empty -> {HEAD}" in result.output
    result = runner.invoke(app, ["db", "current"])
    assert HEAD in result.output
    assert "up to date" in result.output
    result = runner.invoke(app, ["db", "history"])
    assert HEAD in result.output
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


def _refused(app: typer.Typer, *args: str) -> ConfigError:
    result = runner.invoke(app, list(args))
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, ConfigError), result.exception
    return result.exception


def test_upgrade_to_an_unknown_revision_names_the_argument(app: typer.Typer, db_file: Path) -> None:
    exc = _refused(app, "db", "upgrade", "nope")
    assert exc.field == "REVISION"
    assert "0001" in str(exc)
    assert "db history" in str(exc)


def test_upgrade_backwards_is_refused_not_silently_ignored(app: typer.Typer, db_file: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    for behind in ("base", "0001"):
        exc = _refused(app, "db", "upgrade", behind)
        assert exc.field == "REVISION"
        assert "only moves forward" in str(exc)
    result = runner.invoke(app, ["db", "upgrade", "head"])
    assert result.exit_code == 0
    assert "already at" in result.stdout


def test_an_unreachable_postgresql_server_is_one_config_error(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("QUANTDESK__DATABASE__URL", f"postgresql+psycopg://postgres@127.0.0.1:{port}/qd")
    exc = _refused(app, "db", "current")
    assert exc.field == "database.url"
    assert "cannot reach the database" in str(exc)
    assert "fix host, port" in str(exc)


def test_a_missing_postgresql_database_says_how_to_create_it(
    app: typer.Typer, pg_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = make_url(pg_database_url).set(database="qd_no_such_db_here")
    monkeypatch.setenv("QUANTDESK__DATABASE__URL", missing.render_as_string(hide_password=False))
    exc = _refused(app, "db", "current")
    assert exc.field == "database.url"
    assert "does not exist" in str(exc)
    assert "createdb qd_no_such_db_here" in str(exc)


def _read_only_mount_or_skip(folder: Path) -> None:
    """Read-only mounts reproduce Errno 30 even as root (chattr gives EPERM); they need unshare and mount."""
    probe = f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && ! touch {folder}/probe"
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "sh", "-c", probe]).returncode != 0:
        pytest.skip("needs unshare -m and mount (root in a container that allows mount namespaces)")


def test_read_commands_open_a_database_on_a_read_only_mount(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK")}
    env |= {"QUANTDESK__PATHS__DATA_DIR": str(data), "COLUMNS": "200"}
    cli = f"{shlex.quote(sys.executable)} -m quantdesk.cli.main"
    assert subprocess.run([sys.executable, "-m", "quantdesk.cli.main", "db", "upgrade"], env=env).returncode == 0
    _read_only_mount_or_skip(data)
    read_only = f"mount --bind {data} {data} && mount -o remount,bind,ro {data} && "
    script = read_only + " && ".join(
        f"{cli} {args} >> {tmp_path}/out 2>> {tmp_path}/err"
        for args in ("orders --json", "fills --json", "history --json", "kill-switch status --json", "db current")
    )
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env)
    err = (tmp_path / "err").read_text()
    assert done.returncode == 0, err
    assert err == ""
    assert "up to date" in (tmp_path / "out").read_text()
    write = subprocess.run(
        ["unshare", "-m", "sh", "-c", read_only + f"{cli} kill-switch halt --reason test"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert write.returncode == 2
    last = write.stderr.strip().splitlines()[-1]
    assert last.startswith("error: database.url: the database is read-only here")
    assert "paths.data_dir" in last
