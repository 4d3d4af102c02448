from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from quantdesk.config import (
    LIVE_CONFIRMATION_PHRASE,
    MASK,
    RISK_RULES,
    DatabaseSettings,
    Settings,
    ensure_trading_mode,
    load_settings,
)
from quantdesk.errors import ConfigError, LiveTradingNotConfirmed


@pytest.fixture(autouse=True)
def _in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./quantdesk.toml or ./.env of the repository may leak into these tests."""
    monkeypatch.chdir(tmp_path)


def load(**overrides: str) -> Settings:
    """Defaults plus ``--set`` style overrides, with no file and no environment variables."""
    return load_settings(overrides={k.replace("__", "."): v for k, v in overrides.items()}, environ={})


def load_error(key: str, value: str, **more: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(overrides={key: value, **more}, environ={})
    return info.value


# ---- defaults -------------------------------------------------------------------------------------------------


def test_defaults_are_the_seed_config() -> None:
    s = Settings()
    assert s.mode == "paper"
    assert not s.is_live
    assert (s.ib.host, s.ib.port, s.ib.client_id_data, s.ib.client_id_execution) == ("127.0.0.1", 7497, 1, 2)
    assert (s.ib.account, s.ib.read_only, s.ib.connect_timeout, s.ib.auto_reconnect) == ("", False, 10.0, True)
    assert (s.ib.reconnect_max_attempts, s.ib.reconnect_backoff_max, s.ib.market_data_type) == (10, 32.0, "live")
    assert s.risk.enabled
    assert not s.risk.allow_short_selling
    assert (s.risk.max_position_pct, s.risk.daily_loss_limit_pct, s.risk.max_trades_per_day) == (0.10, 0.02, 100)
    assert (s.risk.max_order_notional, s.risk.price_band_pct, s.risk.max_gross_exposure) == (100_000.0, 0.05, 1.0)
    assert s.risk.restricted_symbols == ()
    assert s.risk.disabled_rules == ()
    assert (s.orders.default_type, s.orders.limit_offset_pct, s.orders.tif, s.orders.outside_rth) == (
        "LIMIT",
        0.001,
        "DAY",
        False,
    )
    assert (s.health.check_interval, s.health.timeout) == (30.0, 10.0)
    assert (s.api.host, s.api.port, s.api.secret_key, s.api.cors_origins) == ("127.0.0.1", 8000, None, ())
    assert not (s.alerts.email.enabled)
    assert not (s.alerts.sms.enabled)
    assert not (s.alerts.webhook.enabled)
    assert s.logging.level == "INFO"
    assert s.live.confirm == ""
    assert s.database.echo is False
    assert s.paths.log_dir is None
    assert s.warnings() == []


def test_default_data_dir_is_expanded_home_and_database_lives_in_it() -> None:
    s = Settings()
    assert s.paths.data_dir == Path.home() / ".quantdesk"
    assert s.database.url == f"sqlite:///{(Path.home() / '.quantdesk' / 'quantdesk.db').as_posix()}"


def test_database_url_follows_data_dir_unless_given(tmp_path: Path) -> None:
    s = load(paths__data_dir=str(tmp_path / "d"))
    assert s.paths.data_dir == tmp_path / "d"
    assert s.database.url == f"sqlite:///{(tmp_path / 'd' / 'quantdesk.db').as_posix()}"
    given = load(paths__data_dir=str(tmp_path), database__url="sqlite:///elsewhere.db")
    assert given.database.url == "sqlite:///elsewhere.db"
    assert DatabaseSettings().url.endswith("/.quantdesk/quantdesk.db")


def test_paths_expand_user_and_empty_log_dir_is_none() -> None:
    s = load(paths__data_dir="~/qd", paths__log_dir="")
    assert s.paths.data_dir == Path.home() / "qd"
    assert s.paths.log_dir is None
    assert load(paths__log_dir="~/logs").paths.log_dir == Path.home() / "logs"


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(pydantic.ValidationError):
        s.mode = "live"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        s.ib.port = 4002  # type: ignore[misc]


def test_strings_are_coerced_and_enum_values_are_case_insensitive() -> None:
    s = load(
        mode="LIVE",
        ib__port="4002",
        ib__read_only="true",
        ib__market_data_type="Delayed",
        orders__tif="gtc",
        orders__default_type="market",
        logging__level="debug",
        risk__max_position_pct="0.25",
    )
    assert s.mode == "live"
    assert s.is_live
    assert s.ib.port == 4002
    assert s.ib.read_only is True
    assert s.ib.market_data_type == "delayed"
    assert (s.orders.tif, s.orders.default_type, s.logging.level) == ("GTC", "MARKET", "DEBUG")
    assert s.risk.max_position_pct == 0.25


def test_lists_accept_comma_separated_text_and_json() -> None:
    s = load(risk__restricted_symbols="aapl, tsla ,", api__cors_origins='["http://a", "http://b"]')
    assert s.risk.restricted_symbols == ("AAPL", "TSLA")
    assert s.api.cors_origins == ("http://a", "http://b")
    assert load(risk__restricted_symbols="").risk.restricted_symbols == ()


# ---- every validation rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "hint_part"),
    [
        ("mode", "real", '"paper" or "live"'),
        ("ib.host", "  ", "host name or IP address"),
        ("ib.port", "0", "between 1 and 65535"),
        ("ib.port", "70000", "between 1 and 65535"),
        ("ib.port", "abc", "between 1 and 65535"),
        ("ib.client_id_data", "-1", "client id >= 0"),
        ("ib.client_id_execution", "-3", "client id >= 0"),
        ("ib.connect_timeout", "0", "positive number of seconds"),
        ("ib.request_timeout", "-1", "positive number of seconds"),
        ("ib.reconnect_max_attempts", "0", ">= 1"),
        ("ib.reconnect_backoff_max", "0", "positive number of seconds"),
        ("ib.market_data_type", "realtime", "'delayed'"),
        ("ib.auto_reconnect", "maybe", "true or false"),
        ("risk.enabled", "perhaps", "true or false"),
        ("risk.max_position_pct", "0", "fraction in (0, 1]"),
        ("risk.max_position_pct", "1.5", "fraction in (0, 1]"),
        ("risk.daily_loss_limit_pct", "-0.1", "fraction in (0, 1]"),
        ("risk.price_band_pct", "2", "fraction in (0, 1]"),
        ("risk.max_trades_per_day", "0", ">= 1"),
        ("risk.max_trades_per_day", "2.5", "whole number"),
        ("risk.max_order_notional", "-1", "positive amount"),
        ("risk.max_gross_exposure", "0", "positive multiple"),
        ("risk.disabled_rules", "price_bnd", "did you mean 'price_band'"),
        ("risk.restricted_symbols", '["AAPL"', 'write ["A", "B"]'),
        ("orders.default_type", "STOP", "'LIMIT'"),
        ("orders.tif", "GTD", "'GTC'"),
        ("orders.limit_offset_pct", "-0.1", "fraction in [0, 1]"),
        ("health.check_interval", "0", "positive number of seconds"),
        ("health.timeout", "-5", "positive number of seconds"),
        ("database.url", "not a url", "dialect://"),
        ("api.port", "99999", "between 1 and 65535"),
        ("alerts.email.smtp_port", "0", "between 1 and 65535"),
        ("alerts.sms.provider", "pigeon", "'twilio'"),
        ("alerts.webhook.timeout", "0", "positive number of seconds"),
        ("logging.level", "LOUD", "'INFO'"),
    ],
)
def test_each_bad_value_names_key_value_source_and_fix(key: str, value: str, hint_part: str) -> None:
    err = load_error(key, value)
    text = str(err)
    assert err.field == key
    assert err.value == value
    assert text.startswith(f"{key}: ")
    assert repr(value) in text  # the bad value
    assert f"--set {key}" in text  # where it came from
    assert err.hint is not None
    assert hint_part in err.hint, err.hint
    assert "(fix: " in text
    assert "\n" not in text


def test_client_ids_must_differ() -> None:
    err = load_error("ib.client_id_data", "2")
    assert err.field == "ib.client_id_execution"
    assert "ib.client_id_data (2)" in str(err)
    assert "--set ib.client_id_data" in str(err)
    assert err.hint is not None
    assert "another value" in err.hint


def test_health_timeout_may_not_exceed_interval() -> None:
    err = load_error("health.timeout", "60")
    assert err.field == "health.timeout"
    assert "60" in str(err)
    assert "check_interval" in str(err)


@pytest.mark.parametrize(
    ("channel", "first_missing"),
    [("email", "smtp_host"), ("sms", "account_sid"), ("webhook", "url")],
)
def test_enabled_alert_channel_must_be_complete(channel: str, first_missing: str) -> None:
    err = load_error(f"alerts.{channel}.enabled", "true")
    assert err.field == f"alerts.{channel}.{first_missing}"
    assert err.hint is not None
    assert f"alerts.{channel}.enabled = false" in err.hint


def test_complete_alert_channels_load() -> None:
    s = load_settings(
        overrides={
            "alerts.email.enabled": "true",
            "alerts.email.smtp_host": "smtp.example.com",
            "alerts.email.sender": "qd@example.com",
            "alerts.email.recipients": "a@example.com,b@example.com",
            "alerts.email.password": "pw",
            "alerts.sms.enabled": "1",
            "alerts.sms.account_sid": "AC1",
            "alerts.sms.auth_token": "tok",
            "alerts.sms.sender": "+100",
            "alerts.sms.recipients": "+200",
            "alerts.webhook.enabled": "yes",
            "alerts.webhook.url": "https://hooks.example.com/T0KEN",
            "alerts.webhook.headers.authorization": "Bearer abc",
        },
        environ={},
    )
    assert s.alerts.email.recipients == ("a@example.com", "b@example.com")
    assert s.alerts.sms.auth_token is not None
    assert s.alerts.sms.auth_token.get_secret_value() == "tok"
    assert s.alerts.webhook.headers["authorization"].get_secret_value() == "Bearer abc"


def test_unknown_disabled_rule_lists_the_known_ones() -> None:
    err = load_error("risk.disabled_rules", "nonsense")
    assert err.hint is not None
    for name in RISK_RULES:
        assert name in err.hint


def test_rules_can_be_disabled_by_name() -> None:
    s = load(risk__disabled_rules="price_band, Short_Selling")
    assert s.risk.disabled_rules == ("price_band", "short_selling")
    assert not s.risk.rule_enabled("price_band")
    assert s.risk.rule_enabled("max_position")
    off = load(risk__enabled="false")
    assert not off.risk.rule_enabled("max_position")
    with pytest.raises(ValueError, match="unknown risk rule"):
        s.risk.rule_enabled("nope")


def test_several_errors_make_one_line_with_a_count() -> None:
    err = load_error("ib.port", "0", **{"risk.max_position_pct": "2", "orders.tif": "x"})
    text = str(err)
    assert "\n" not in text
    assert "(+2 more:" in text
    assert "risk.max_position_pct" in text
    assert "orders.tif" in text


# ---- secrets --------------------------------------------------------------------------------------------------

SECRETS = {
    "api.secret_key": "api-SECRET-1",
    "alerts.email.password": "mail-SECRET-2",
    "alerts.sms.auth_token": "sms-SECRET-3",
    "alerts.webhook.url": "https://hooks.example.com/SECRET-4",
    "alerts.webhook.headers.authorization": "Bearer SECRET-5",
    "database.url": "postgresql://qd:SECRET-6@db.example.com/quantdesk",
}


def test_secrets_are_masked_in_repr_str_dict_and_json() -> None:
    s = load_settings(overrides=SECRETS, environ={})
    assert s.api.secret_key is not None
    assert s.api.secret_key.get_secret_value() == "api-SECRET-1"
    assert s.database.url == SECRETS["database.url"]  # usable by code …
    shown = [repr(s), str(s), repr(s.database), str(s.masked_dict()), s.model_dump_json()]
    for text in shown[:-1]:
        assert "SECRET" not in text, text  # … but never shown
    masked = s.masked_dict()
    assert masked["api"]["secret_key"] == MASK
    assert masked["alerts"]["email"]["password"] == MASK
    assert masked["alerts"]["sms"]["auth_token"] == MASK
    assert masked["alerts"]["webhook"]["url"] == MASK
    assert masked["alerts"]["webhook"]["headers"] == {"authorization": MASK}
    assert masked["database"]["url"] == f"postgresql://qd:{MASK}@db.example.com/quantdesk"
    assert "SECRET-1" not in shown[-1]


def test_a_bad_secret_is_not_echoed_in_the_error() -> None:
    err = load_error("alerts.webhook.url", "ftp://SECRET-TOKEN", **{"alerts.webhook.enabled": "true"})
    assert err.field == "alerts.webhook.url"
    assert "SECRET" not in str(err)
    assert "SECRET" not in repr(err.to_dict())
    assert MASK in str(err)


def test_database_password_is_not_echoed_in_errors() -> None:
    err = load_error("database.url", "postgresql://qd:SECRET@db", **{"ib.port": "0"})
    assert "SECRET" not in str(err)


# ---- live trading ---------------------------------------------------------------------------------------------


def test_paper_needs_no_confirmation() -> None:
    s = Settings()
    assert ensure_trading_mode(s) == "paper"
    s.require_live_confirmed()  # paper: nothing to confirm


def test_live_without_confirmation_loads_but_refuses_to_trade() -> None:
    s = load(mode="live", ib__port="7496")  # loading must not raise
    assert s.is_live
    assert not s.live_confirmed
    with pytest.raises(LiveTradingNotConfirmed) as info:
        ensure_trading_mode(s)
    err = info.value
    assert err.field == "live.confirm"
    assert err.hint is not None
    assert LIVE_CONFIRMATION_PHRASE in err.hint
    assert "--live" in err.hint
    assert str(err).startswith("live.confirm: ")
    with pytest.raises(LiveTradingNotConfirmed):
        s.require_live_confirmed()


def test_live_needs_both_the_phrase_and_the_cli_confirmation() -> None:
    confirmed = load(mode="live", ib__port="7496", live__confirm=f"  {LIVE_CONFIRMATION_PHRASE} ")
    assert confirmed.live_confirmed
    assert ensure_trading_mode(confirmed, cli_confirmed=True) == "live"
    confirmed.require_live_confirmed(cli_confirmed=True)
    with pytest.raises(LiveTradingNotConfirmed) as no_flag:  # the phrase alone does not trade
        ensure_trading_mode(confirmed)
    assert no_flag.value.field == "--live"
    assert "both" in str(no_flag.value)
    unconfirmed = load(mode="live", ib__port="7496")
    with pytest.raises(LiveTradingNotConfirmed) as no_phrase:  # nor does the flag alone
        ensure_trading_mode(unconfirmed, cli_confirmed=True)
    assert no_phrase.value.field == "live.confirm"
    assert "--live" in str(no_phrase.value)


def test_a_wrong_phrase_does_not_confirm() -> None:
    s = load(mode="live", live__confirm="i understand")
    with pytest.raises(LiveTradingNotConfirmed, match="not the confirmation phrase"):
        ensure_trading_mode(s)
    assert any("does not match" in w for w in s.warnings())


def test_the_phrase_alone_does_not_make_paper_live() -> None:
    s = load(live__confirm=LIVE_CONFIRMATION_PHRASE)
    assert not s.is_live
    assert not s.live_confirmed
    assert ensure_trading_mode(s) == "paper"


def test_cli_live_with_a_paper_config_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        ensure_trading_mode(Settings(), cli_confirmed=True)
    assert not isinstance(info.value, LiveTradingNotConfirmed)
    assert info.value.field == "mode"
    assert info.value.hint is not None
    assert "mode" in info.value.hint


# ---- warnings -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["7496", "4001"])
def test_live_port_in_paper_mode_is_flagged(port: str) -> None:
    warnings = load(ib__port=port).warnings()
    assert len(warnings) == 1
    assert f"ib.port {port}" in warnings[0]
    assert "mode is paper" in warnings[0]


@pytest.mark.parametrize("port", ["7497", "4002"])
def test_paper_ports_in_paper_mode_are_fine(port: str) -> None:
    assert load(ib__port=port).warnings() == []


def test_paper_port_in_live_mode_is_flagged() -> None:
    warnings = load(mode="live", ib__port="4002", live__confirm=LIVE_CONFIRMATION_PHRASE).warnings()
    assert len(warnings) == 1
    assert "4002" in warnings[0]
    assert "mode is live" in warnings[0]


def test_unconfirmed_live_is_flagged() -> None:
    warnings = load(mode="live", ib__port="4001").warnings()
    assert len(warnings) == 1
    assert "live.confirm is not set" in warnings[0]


def test_other_warnings() -> None:
    assert any("risk.enabled is false" in w for w in load(risk__enabled="false").warnings())
    assert any("secret_key" in w for w in load(api__host="0.0.0.0").warnings())
    assert load(api__host="0.0.0.0", api__secret_key="k").warnings() == []
    assert any(
        "paper account" in w
        for w in load(
            mode="live", live__confirm=LIVE_CONFIRMATION_PHRASE, ib__port="7496", ib__account="DU123"
        ).warnings()
    )
    assert any("live account" in w for w in load(ib__account="u123").warnings())
