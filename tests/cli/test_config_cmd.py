from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from quantdesk.cli import config_cmd, main, output
from quantdesk.cli.context import settings_from
from quantdesk.config import EXAMPLE_TOML, LIVE_CONFIRMATION_PHRASE, MASK
from quantdesk.errors import ConfigError

runner = CliRunner()


def make_app() -> typer.Typer:
    """The real global options and the config group, without the other (independently built) command groups."""
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(main.main)
    app.add_typer(config_cmd.app, name="config")
    return app


@pytest.fixture(autouse=True)
def _in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def app() -> typer.Typer:
    return make_app()


def invoke(app: typer.Typer, *args: str) -> object:
    return runner.invoke(app, list(args))


# ---- show -----------------------------------------------------------------------------------------------------


def test_show_json_is_the_effective_config_with_secrets_masked(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTDESK__API__SECRET_KEY", "very-SECRET-key")
    monkeypatch.setenv("QUANTDESK__ALERTS__EMAIL__PASSWORD", "mail-SECRET")
    result = runner.invoke(app, ["--set", "ib.port=4002", "config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert "SECRET" not in result.output
    doc = json.loads(result.output)
    assert doc["ib"]["port"] == 4002
    assert doc["api"]["secret_key"] == MASK
    assert doc["alerts"]["email"]["password"] == MASK
    assert doc["mode"] == "paper"


def test_show_table_marks_sources_and_masks_secrets(app: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK__API__SECRET_KEY", "hunter2-xyz")
    monkeypatch.setattr(output.console, "width", 200)  # no folding of long cells
    Path("quantdesk.toml").write_text("[risk]\nmax_position_pct = 0.05\n", encoding="utf-8")
    result = runner.invoke(app, ["-s", "ib.port=4002", "config", "show"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "hunter2" not in out
    assert MASK in out
    assert "--set ib.port" in out
    assert "env var QUANTDESK__API__SECRET_KEY" in out
    assert "file quantdesk.toml" in out
    assert "quantdesk config: quantdesk.toml (env none)" in out


def test_show_warns_about_a_live_port_in_paper_mode(app: typer.Typer) -> None:
    result = runner.invoke(app, ["-s", "ib.port=7496", "config", "show"])
    assert result.exit_code == 0
    assert "warning:" in result.output
    assert "7496" in result.output


# ---- validate -------------------------------------------------------------------------------------------------


def test_validate_ok_names_file_and_env(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "qd.toml"
    path.write_text(EXAMPLE_TOML, encoding="utf-8")
    result = runner.invoke(app, ["-c", str(path), "config", "validate"])
    assert result.exit_code == 0, result.output
    assert f"config OK: {path} (env paper)" in " ".join(result.output.split())
    assert "warning" not in result.output


def test_validate_without_file_uses_defaults(app: typer.Typer) -> None:
    result = runner.invoke(app, ["config", "validate"])
    assert result.exit_code == 0
    assert "config OK: no config file (defaults) (env none)" in result.output


def test_validate_warns_live_port_with_paper_mode(app: typer.Typer) -> None:
    result = runner.invoke(app, ["-s", "ib.port=4001", "config", "validate"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "config OK" in text
    assert "warning: ib.port 4001 is the IB Gateway live port but mode is paper" in text
    strict = runner.invoke(app, ["-s", "ib.port=4001", "config", "validate", "--strict"])
    assert strict.exit_code == 1


def test_validate_json(app: typer.Typer) -> None:
    result = runner.invoke(app, ["-s", "mode=live", "-s", "ib.port=7496", "config", "validate", "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["ok"] is True
    assert doc["mode"] == "live"
    assert doc["live_confirmed"] is False
    assert any("live.confirm" in w for w in doc["warnings"])
    confirmed = runner.invoke(
        app,
        [
            "-s",
            "mode=live",
            "-s",
            "ib.port=7496",
            "-s",
            f"live.confirm={LIVE_CONFIRMATION_PHRASE}",
            "config",
            "validate",
            "--json",
        ],
    )
    doc = json.loads(confirmed.output)
    assert doc["live_confirmed"] is True
    assert doc["warnings"] == []


def test_validate_json_reports_the_error(app: typer.Typer) -> None:
    result = runner.invoke(app, ["-s", "ib.port=abc", "config", "validate", "--json"])
    assert result.exit_code == 2
    doc = json.loads(result.output)
    assert doc["ok"] is False
    assert doc["field"] == "ib.port"
    assert "abc" in doc["value"]
    assert doc["hint"]


def test_validate_raises_config_error_for_bad_values(app: typer.Typer) -> None:
    result = runner.invoke(app, ["-s", "risk.max_position_pct=3", "config", "validate"])
    assert isinstance(result.exception, ConfigError)
    assert result.exception.field == "risk.max_position_pct"


def test_validate_uses_env_selection(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "quantdesk.toml"
    path.write_text(EXAMPLE_TOML, encoding="utf-8")
    live = runner.invoke(app, ["-e", "live", "config", "validate"])
    assert live.exit_code == 0
    assert "(env live)" in live.output
    assert "live.confirm is not set" in " ".join(live.output.split())
    unknown = runner.invoke(app, ["--env", "prod", "config", "validate"])
    assert isinstance(unknown.exception, ConfigError)
    assert "live, paper" in str(unknown.exception)


def test_errors_print_as_one_line_through_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(main, "app", make_app())
    monkeypatch.setattr(main, "_register", lambda: None)
    monkeypatch.setattr(sys, "argv", ["quantdesk", "--set", "ib.port=70000", "config", "validate"])
    with pytest.raises(SystemExit) as info:
        main.run()
    assert info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())  # the console may soft-wrap at its width
    assert err.startswith("error: ib.port: ")
    assert "'70000'" in err
    assert "--set ib.port" in err
    assert "(fix: use a TCP port" in err
    assert "Traceback" not in err


# ---- init -----------------------------------------------------------------------------------------------------


def test_init_writes_a_file_that_validates(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "init"])
    assert result.exit_code == 0, result.output
    written = tmp_path / "quantdesk.toml"
    assert written.read_text(encoding="utf-8") == EXAMPLE_TOML
    assert "wrote quantdesk.toml" in result.output
    check = runner.invoke(app, ["config", "validate"])  # found as ./quantdesk.toml
    assert check.exit_code == 0, check.output
    assert "config OK: quantdesk.toml (env paper)" in check.output


@pytest.mark.parametrize("name", ["conf/qd.yaml", "qd.yml", "qd.toml"])
def test_init_at_a_path_in_either_format(app: typer.Typer, tmp_path: Path, name: str) -> None:
    result = runner.invoke(app, ["config", "init", name])
    assert result.exit_code == 0, result.output
    check = runner.invoke(app, ["-c", name, "config", "validate", "--json"])
    assert check.exit_code == 0, check.output
    assert json.loads(check.output)["ok"] is True


def test_init_uses_the_global_config_path(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["-c", "mine.yaml", "config", "init"])
    assert result.exit_code == 0
    assert (tmp_path / "mine.yaml").is_file()


def test_init_refuses_to_overwrite_without_force(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "quantdesk.toml"
    target.write_text("# mine\n", encoding="utf-8")
    result = runner.invoke(app, ["config", "init"])
    assert isinstance(result.exception, ConfigError)
    assert "already exists" in str(result.exception)
    assert result.exception.hint is not None
    assert "--force" in result.exception.hint
    assert target.read_text(encoding="utf-8") == "# mine\n"
    forced = runner.invoke(app, ["config", "init", "--force"])
    assert forced.exit_code == 0
    assert target.read_text(encoding="utf-8") == EXAMPLE_TOML


def test_init_refuses_unknown_extensions(app: typer.Typer) -> None:
    result = runner.invoke(app, ["config", "init", "qd.ini"])
    assert isinstance(result.exception, ConfigError)
    assert result.exception.hint is not None
    assert ".toml" in result.exception.hint
    assert not Path("qd.ini").exists()


# ---- context --------------------------------------------------------------------------------------------------


def test_settings_from_loads_once_per_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    seen: list[int] = []
    app = make_app()
    extra = typer.Typer()

    @extra.command("probe")
    def probe(ctx: typer.Context) -> None:
        first = settings_from(ctx)
        assert settings_from(ctx) is first
        seen.append(first.ib.port)

    app.add_typer(extra, name="x")
    import quantdesk.config

    real = quantdesk.config.load_settings

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("quantdesk.cli.context.load_settings", counting)
    result = runner.invoke(app, ["-s", "ib.port=4002", "x", "probe"])
    assert result.exit_code == 0, result.output
    assert seen == [4002]
    assert len(calls) == 1
