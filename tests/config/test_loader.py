from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from quantdesk.config import EXAMPLE_TOML, EXAMPLE_YAML, Settings, find_config_file, load_settings, read_dotenv
from quantdesk.errors import ConfigError

BASE_TOML = """\
default_env = "paper"

[ib]
host = "10.0.0.5"
port = 4002

[risk]
max_position_pct = 0.2
max_trades_per_day = 50

[env.paper.ib]
port = 7497

[env.live]
mode = "live"

[env.live.ib]
port = 7496
"""


@pytest.fixture(autouse=True)
def _in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write(tmp_path / "qd.toml", BASE_TOML)


# ---- precedence: each layer beats the one before --------------------------------------------------------------


def test_no_file_gives_defaults() -> None:
    s = load_settings(environ={})
    assert s.model_dump() == Settings().model_dump()
    assert s.source_file is None
    assert s.env_name is None
    assert s.sources == {}


def test_file_base_beats_defaults(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path / "base.toml", '[ib]\nport = 4002\nhost = "10.0.0.5"\n'), environ={})
    assert (s.ib.port, s.ib.host) == (4002, "10.0.0.5")
    assert s.ib.client_id_data == 1  # untouched keys keep their defaults
    assert s.sources["ib.port"].startswith("file ")
    assert s.sources["ib.port"].endswith("base.toml")


def test_env_section_beats_file_base_and_deep_merges(config: Path) -> None:
    s = load_settings(config, env="live", environ={})
    assert s.env_name == "live"
    assert (s.mode, s.ib.port) == ("live", 7496)
    assert s.ib.host == "10.0.0.5"  # the base's other keys of [ib] survive the merge
    assert s.risk.max_position_pct == 0.2
    assert s.sources["ib.port"].endswith("[env.live]")
    assert not s.sources["ib.host"].endswith("]")


def test_dotenv_beats_env_section(config: Path, tmp_path: Path) -> None:
    write(tmp_path / ".env", "QUANTDESK__IB__PORT=4001\n")
    s = load_settings(config, env="live", environ={})
    assert s.ib.port == 4001
    assert ".env" in s.sources["ib.port"]
    assert "QUANTDESK__IB__PORT" in s.sources["ib.port"]


def test_process_env_beats_dotenv(config: Path, tmp_path: Path) -> None:
    write(tmp_path / ".env", "QUANTDESK__IB__PORT=4001\n")
    s = load_settings(config, env="live", environ={"QUANTDESK__IB__PORT": "4002"})
    assert s.ib.port == 4002
    assert s.sources["ib.port"] == "env var QUANTDESK__IB__PORT"


def test_override_beats_process_env(config: Path, tmp_path: Path) -> None:
    write(tmp_path / ".env", "QUANTDESK__IB__PORT=4001\n")
    s = load_settings(config, "live", {"ib.port": "7497"}, environ={"QUANTDESK__IB__PORT": "4002"})
    assert s.ib.port == 7497
    assert s.sources["ib.port"] == "--set ib.port"


def test_layers_merge_key_by_key(config: Path, tmp_path: Path) -> None:
    write(tmp_path / ".env", "QUANTDESK__RISK__MAX_TRADES_PER_DAY=7\n")
    s = load_settings(
        config,
        "live",
        {"risk.price_band_pct": "0.01"},
        environ={"QUANTDESK__RISK__DAILY_LOSS_LIMIT_PCT": "0.03"},
    )
    assert (s.risk.max_position_pct, s.risk.max_trades_per_day) == (0.2, 7)
    assert (s.risk.daily_loss_limit_pct, s.risk.price_band_pct) == (0.03, 0.01)
    assert s.risk.max_order_notional == 100_000.0


def test_env_vars_are_case_insensitive_and_reach_nested_keys() -> None:
    s = load_settings(
        environ={
            "quantdesk__ib__port": "4002",
            "QUANTDESK__Alerts__Email__Password": "pw",
            "QUANTDESK__MODE": "live",
            "OTHER__IB__PORT": "1",
            "QUANTDESK_ENV_UNRELATED": "x",
        }
    )
    assert s.ib.port == 4002
    assert s.mode == "live"
    assert s.alerts.email.password is not None
    assert s.alerts.email.password.get_secret_value() == "pw"


def test_malformed_env_var_name_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"QUANTDESK__IB__": "1"})
    assert info.value.field == "QUANTDESK__IB__"
    assert info.value.hint is not None
    assert "QUANTDESK__IB__PORT" in info.value.hint


# ---- selecting the environment --------------------------------------------------------------------------------


def test_env_selection_order(config: Path) -> None:
    assert load_settings(config, environ={}).env_name == "paper"  # default_env
    assert load_settings(config, environ={"QUANTDESK_ENV": "live"}).env_name == "live"  # beats default_env
    assert load_settings(config, env="paper", environ={"QUANTDESK_ENV": "live"}).env_name == "paper"  # --env wins
    no_default = write(config.with_name("nodefault.toml"), BASE_TOML.replace('default_env = "paper"', ""))
    s = load_settings(no_default, environ={})
    assert s.env_name is None
    assert s.ib.port == 4002


def test_unknown_environment_lists_the_available_ones(config: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(config, env="prod", environ={})
    err = info.value
    assert err.field == "--env"
    assert err.value == "prod"
    assert "live, paper" in str(err)
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={"QUANTDESK_ENV": "staging"})
    assert info.value.field == "QUANTDESK_ENV"


def test_default_env_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", 'default_env = "paper"\n[env.live]\nmode = "live"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert info.value.field == "default_env"
    assert "live" in str(info.value)


def test_env_without_a_file_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env="paper", environ={})
    assert info.value.field == "--env"
    assert info.value.hint is not None
    assert "config init" in info.value.hint


def test_env_table_must_hold_sections(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path / "c.toml", "env = 3\n"), environ={})
    assert info.value.field == "env"
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path / "d.toml", "[env]\npaper = 3\n"), environ={})
    assert info.value.field == "env.paper"


# ---- finding and parsing the file -----------------------------------------------------------------------------


def test_config_file_lookup_order(tmp_path: Path) -> None:
    assert find_config_file(environ={}) is None
    write(tmp_path / "quantdesk.yaml", "ib:\n  port: 4001\n")
    assert find_config_file(environ={}) == Path("quantdesk.yaml")
    write(tmp_path / "quantdesk.toml", "[ib]\nport = 4002\n")
    assert find_config_file(environ={}) == Path("quantdesk.toml")
    assert load_settings(environ={}).ib.port == 4002
    other = write(tmp_path / "other.yml", "ib:\n  port: 7496\n")
    assert load_settings(environ={"QUANTDESK_CONFIG": str(other)}).ib.port == 7496
    explicit = write(tmp_path / "explicit.toml", "[ib]\nport = 7497\n")
    assert load_settings(explicit, environ={"QUANTDESK_CONFIG": str(other)}).source_file == explicit


def test_missing_explicit_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.toml", environ={})
    assert info.value.field == "--config"
    assert "nope.toml" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"QUANTDESK_CONFIG": str(tmp_path / "gone.yaml")})
    assert info.value.field == "QUANTDESK_CONFIG"
    assert "gone.yaml" in str(info.value)


def test_unsupported_extension(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unsupported config file type") as info:
        load_settings(write(tmp_path / "c.ini", "[ib]\n"), environ={})
    assert info.value.hint is not None
    assert ".toml" in info.value.hint


def test_malformed_toml_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", '[ib]\nhost = "x"\nport = \n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    text = str(info.value)
    assert "bad.toml" in text
    assert "line 3" in text
    assert "column" in text
    assert info.value.hint
    assert "\n" not in text


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "ib:\n  port: 1\n bad: [\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    text = str(info.value)
    assert "bad.yaml" in text
    assert "line 3" in text
    assert info.value.hint
    assert "\n" not in text


def test_yaml_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a mapping"):
        load_settings(write(tmp_path / "list.yaml", "- a\n- b\n"), environ={})


def test_empty_files_and_empty_yaml_sections_mean_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path / "e.toml", ""), environ={}).ib.port == 7497
    assert load_settings(write(tmp_path / "e.yaml", "# nothing\n"), environ={}).ib.port == 7497
    s = load_settings(write(tmp_path / "n.yaml", "paths:\n  # data_dir: x\nib:\n  port: 4002\n"), environ={})
    assert s.ib.port == 4002


def test_toml_and_yaml_give_the_same_settings(tmp_path: Path) -> None:
    toml_s = load_settings(write(tmp_path / "c.toml", BASE_TOML), environ={})
    as_yaml = yaml.safe_dump(tomllib.loads(BASE_TOML))
    yaml_s = load_settings(write(tmp_path / "c.yaml", as_yaml), environ={})
    assert toml_s.model_dump() == yaml_s.model_dump()


# ---- errors name the key, the value, the source and the fix ---------------------------------------------------


def test_unknown_key_in_file_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[risk]\nmax_positon_pct = 0.2\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    err = info.value
    assert err.field == "risk.max_positon_pct"
    assert "unknown key" in str(err)
    assert "c.toml" in str(err)
    assert "0.2" in str(err)
    assert err.hint is not None
    assert "did you mean risk.max_position_pct?" in err.hint


def test_unknown_section_from_env_var_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"QUANTDESK__IBB__PORT": "4002"})
    err = info.value
    assert err.field == "ibb"
    assert "env var QUANTDESK__IBB__PORT" in str(err)
    assert err.hint is not None
    assert "did you mean ib?" in err.hint


def test_unknown_key_in_env_section_names_the_section(config: Path) -> None:
    path = write(config, BASE_TOML + "\n[env.live.risk]\nmax_trade_per_day = 3\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env="live", environ={})
    assert info.value.field == "risk.max_trade_per_day"
    assert "[env.live]" in str(info.value)
    assert info.value.hint is not None
    assert "risk.max_trades_per_day" in info.value.hint


def test_unknown_key_without_a_close_match_lists_valid_keys() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(overrides={"orders.zzz": "1"}, environ={})
    assert info.value.hint is not None
    assert "valid keys in [orders]: default_type" in info.value.hint


def test_bad_value_names_its_source(config: Path, tmp_path: Path) -> None:
    bad_file = write(tmp_path / "bad.toml", "[ib]\nport = 99999\n")
    with pytest.raises(ConfigError, match=r"ib\.port: .*99999.*file .*bad\.toml"):
        load_settings(bad_file, environ={})
    with pytest.raises(ConfigError, match=r"'x'.*env var QUANTDESK__RISK__MAX_POSITION_PCT"):
        load_settings(environ={"QUANTDESK__RISK__MAX_POSITION_PCT": "x"})
    write(tmp_path / ".env", "QUANTDESK__ORDERS__TIF=forever\n")
    with pytest.raises(ConfigError, match=r"orders\.tif: .*'forever'.*\.env \(QUANTDESK__ORDERS__TIF\)"):
        load_settings(environ={})


def test_malformed_override_key() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(overrides={"ib..port": "1"}, environ={})
    assert info.value.field == "--set"


# ---- .env -----------------------------------------------------------------------------------------------------


def test_dotenv_syntax(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.env",
        "# comment\n\n"
        "export QUANTDESK__IB__HOST=gw.local  # trailing comment\n"
        'QUANTDESK__API__SECRET_KEY="a b#c"\n'
        "QUANTDESK__IB__ACCOUNT='du123'\n"
        "UNRELATED=1\n",
    )
    assert read_dotenv(path)["QUANTDESK__API__SECRET_KEY"] == "a b#c"
    s = load_settings(environ={}, dotenv_path=path)
    assert s.ib.host == "gw.local"
    assert s.ib.account == "DU123"
    assert s.api.secret_key is not None
    assert s.api.secret_key.get_secret_value() == "a b#c"


def test_dotenv_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, dotenv_path=write(tmp_path / "bad.env", "OK=1\nnot a pair\n"))
    assert "line 2" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, dotenv_path=write(tmp_path / "q.env", 'QUANTDESK__IB__HOST="open\n'))
    assert "line 1" in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={}, dotenv_path=tmp_path / "missing.env")


def test_dotenv_only_quantdesk_keys_apply(tmp_path: Path) -> None:
    write(tmp_path / ".env", "QUANTDESK_CONFIG=nope.toml\nQUANTDESK_ENV=live\nIB_PORT=1\n")
    s = load_settings(environ={})
    assert s.source_file is None
    assert s.env_name is None


# ---- the example file -----------------------------------------------------------------------------------------


def _pruned(tree: dict[str, Any]) -> dict[str, Any]:
    """Drop empty sections and YAML nulls: both spell "not set"."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            value = _pruned(value)
        if value is not None and value != {}:
            out[key] = value
    return out


def test_example_files_spell_out_the_defaults(tmp_path: Path) -> None:
    toml_path = write(tmp_path / "ex.toml", EXAMPLE_TOML)
    yaml_path = write(tmp_path / "ex.yaml", EXAMPLE_YAML)
    assert _pruned(tomllib.loads(EXAMPLE_TOML)) == _pruned(yaml.safe_load(EXAMPLE_YAML))
    defaults = Settings().model_dump()
    for path in (toml_path, yaml_path):
        base = load_settings(path, environ={})
        assert base.env_name == "paper"
        assert base.model_dump() == defaults
        assert base.warnings() == []
        live = load_settings(path, env="live", environ={})
        assert live.is_live
        assert live.ib.port == 7496
        assert not live.live_confirmed
        assert [w for w in live.warnings() if "live.confirm is not set" in w]
