"""The live-trading policy (``services.live_policy``): paper unless live is configured, confirmed and asked for;
the gateway is paper only; a paper order never goes to a live account; what ``validate`` warns about."""

from __future__ import annotations

import pytest

from quantdesk.config import LIVE_CONFIRMATION_PHRASE, Settings
from quantdesk.domain.identifiers import AccountId
from quantdesk.errors import ConfigError, LiveTradingNotConfirmed
from quantdesk.services import live_policy

LIVE = {"mode": "live", "live": {"confirm": LIVE_CONFIRMATION_PHRASE}}


def test_trading_mode_is_paper_unless_config_confirmation_and_flag_agree() -> None:
    assert live_policy.trading_mode(Settings(), live=False) == "paper"
    assert live_policy.trading_mode(Settings(), live=False, broker="gateway") == "paper"
    assert live_policy.trading_mode(Settings.model_validate(LIVE), live=True, broker="ib") == "live"
    with pytest.raises(ConfigError) as flag_on_paper:
        live_policy.trading_mode(Settings(), live=True)
    assert flag_on_paper.value.field == "mode"
    with pytest.raises(LiveTradingNotConfirmed) as no_flag:
        live_policy.trading_mode(Settings.model_validate(LIVE), live=False)
    assert no_flag.value.field == "--live"
    assert "needs --live as well" in str(no_flag.value)
    with pytest.raises(LiveTradingNotConfirmed) as no_phrase:  # named first, even with --live
        live_policy.trading_mode(Settings.model_validate({"mode": "live"}), live=True)
    assert no_phrase.value.field == "live.confirm"
    with pytest.raises(ConfigError) as gateway:  # the simulator is paper only
        live_policy.trading_mode(Settings.model_validate(LIVE), live=True, broker="gateway")
    assert gateway.value.field == "--broker"


def test_a_paper_order_never_goes_to_a_live_account() -> None:
    paper = Settings()
    live_policy.check_account(paper, "paper", AccountId("DU123"))
    live_policy.check_account(paper, "paper", None)
    live_policy.check_account(Settings.model_validate(LIVE), "live", AccountId("U123"))
    with pytest.raises(ConfigError, match="looks like a live account") as refused:
        live_policy.check_account(paper, "paper", AccountId("U123"))
    assert refused.value.field == "mode"
    with pytest.raises(ConfigError, match="live account"):
        live_policy.order_mode(paper, False, AccountId("U123"))
    assert live_policy.order_mode(Settings.model_validate(LIVE), True, AccountId("U123")) == "live"


def test_live_warnings_for_ports_accounts_and_live_sessions_seen() -> None:
    seen = live_policy.live_accounts_seen(["DU1, U7654321 (LIVE), U999 (LIVE)", "nothing here"])
    assert seen == ["U7654321", "U999"]
    warnings = live_policy.live_warnings(Settings(), 7496, seen)
    assert warnings[0].startswith("ib.port 7496")
    assert [w for w in warnings if "live account U999" in w]
    assert live_policy.live_warnings(Settings(), 7497) == []
    live = Settings.model_validate(LIVE)
    assert live_policy.live_warnings(live, 7496, seen) == []  # live mode on a live session: as configured
    assert live_policy.live_warnings(live, 7497)[0].startswith("mode is live but ib.port 7497")
