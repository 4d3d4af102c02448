"""The order messages of the TWS API as plain data: what ``placeOrder`` carries and what the replies need.

These dataclasses are the gateway's view of an order on the wire (server version 178), not the domain's ``Order``:
they keep every field IB sends, under IB's names in snake case (``lmtPrice`` is ``lmt_price``). An unset int or
double is ``None``; strings default to ``""`` and flags to ``False``. ``order_requests`` parses into them and
``order_replies`` encodes from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from quantdesk.errors import ValidationError
from quantdesk.gateway.codec import SERVER_VERSION, UNSET_DOUBLE, UNSET_INTEGER

__all__ = [
    "CONDITION_LAYOUTS",
    "SERVER_VERSION",
    "UNSET_DOUBLE",
    "UNSET_DOUBLE_TEXT",
    "UNSET_INTEGER",
    "UNSET_INTEGER_TEXT",
    "MalformedRequest",
    "TagValue",
    "WireComboLeg",
    "WireCondition",
    "WireContract",
    "WireDeltaNeutralContract",
    "WireExecution",
    "WireOrder",
    "WireOrderState",
    "attr_name",
    "format_ib_time",
]

UNSET_INTEGER_TEXT = "2147483647"
UNSET_DOUBLE_TEXT = "1.7976931348623157E308"
"""How TWS (Java's ``Double.toString``) writes an unset double."""

TagValue = tuple[str, str]
"""One ``tag=value`` pair (algo parameters, smart-combo routing parameters, misc options)."""


class MalformedRequest(ValidationError):
    """A request could not be read field by field: TWS answers such a message with error 320.

    ``field`` names the wire field and its index in the message (the message id is index 0), ``value`` holds the
    offending text, ``request_id`` the order or request id when it was read before the fault (else ``None``).
    """

    def __init__(
        self,
        message: str,
        *,
        field: str,
        value: str | None,
        index: int,
        request_id: int | None = None,
    ) -> None:
        super().__init__(message, field=field, value=value, hint="send the fields in the layout of server version 178")
        self.index = index
        self.request_id = request_id


CONDITION_LAYOUTS: dict[int, tuple[tuple[str, str], ...]] = {
    1: (("conjunction", "s"), ("isMore", "b"), ("price", "f"), ("conId", "i"), ("exch", "s"), ("triggerMethod", "i")),
    3: (("conjunction", "s"), ("isMore", "b"), ("time", "s")),
    4: (("conjunction", "s"), ("isMore", "b"), ("percent", "i")),
    5: (("conjunction", "s"), ("secType", "s"), ("exch", "s"), ("symbol", "s")),
    6: (("conjunction", "s"), ("isMore", "b"), ("volume", "i"), ("conId", "i"), ("exch", "s")),
    7: (("conjunction", "s"), ("isMore", "b"), ("changePercent", "f"), ("conId", "i"), ("exch", "s")),
}
"""The fields after ``condType`` for each condition type, as (wire name, kind): s str, b flag, i int, f double."""

_OVERRIDES = {"rule80A": "rule80a"}


@cache
def attr_name(wire_name: str) -> str:
    """The dataclass attribute that holds the IB wire field ``wire_name`` (``lmtPrice`` → ``lmt_price``)."""
    return _OVERRIDES.get(wire_name) or re.sub(r"(?<!^)(?=[A-Z])", "_", wire_name).lower()


def format_ib_time(moment: datetime) -> str:
    """Format an aware datetime the way ib_async parses it with a zone: ``YYYYMMDD HH:MM:SS UTC``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError("execution time must be timezone-aware", field="time", value=moment, hint="pass UTC")
    return moment.astimezone(UTC).strftime("%Y%m%d %H:%M:%S UTC")


@dataclass(frozen=True, slots=True, kw_only=True)
class WireComboLeg:
    """One leg of a BAG contract as ``placeOrder`` and ``openOrder`` carry it."""

    con_id: int
    ratio: int
    action: str
    exchange: str
    open_close: int = 0
    short_sale_slot: int = 0
    designated_location: str = ""
    exempt_code: int = -1


@dataclass(frozen=True, slots=True, kw_only=True)
class WireDeltaNeutralContract:
    """The delta-neutral underlying of a combo (``deltaNeutralContract``)."""

    con_id: int
    delta: float | None = None
    price: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WireCondition:
    """One order condition; which attributes are on the wire depends on ``cond_type``.

    1 price (is_more, price, con_id, exch, trigger_method), 3 time (is_more, time), 4 margin (is_more, percent),
    5 execution (sec_type, exch, symbol), 6 volume (is_more, volume, con_id, exch), 7 percent change (is_more,
    change_percent, con_id, exch). Every type starts with ``conjunction``: ``"a"`` (and) or ``"o"`` (or).
    """

    cond_type: int
    conjunction: str = "a"
    is_more: bool = True
    price: float | None = None
    con_id: int | None = None
    exch: str = ""
    trigger_method: int | None = None
    time: str = ""
    percent: int | None = None
    sec_type: str = ""
    symbol: str = ""
    volume: int | None = None
    change_percent: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WireContract:
    """The contract block C12 (conId … tradingClass) plus the ids, legs and delta-neutral part ``placeOrder`` adds."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date_or_contract_month: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    sec_id_type: str = ""
    sec_id: str = ""
    combo_legs: tuple[WireComboLeg, ...] = ()
    combo_legs_descrip: str = ""
    delta_neutral_contract: WireDeltaNeutralContract | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WireOrder:
    """Every order field of ``placeOrder`` at server version 178, plus the few only replies carry.

    Fields are in wire order. ``client_id``, ``perm_id`` and the block after ``manual_order_time`` are never sent by
    the client: the gateway fills them in for ``openOrder`` and ``completedOrder``.
    """

    order_id: int
    action: str = ""
    total_quantity: float | None = None
    order_type: str = ""
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = ""
    oca_group: str = ""
    account: str = ""
    open_close: str = ""
    origin: int | None = None
    order_ref: str = ""
    transmit: bool = True
    parent_id: int | None = None
    block_order: bool = False
    sweep_to_fill: bool = False
    display_size: int | None = None
    trigger_method: int | None = None
    outside_rth: bool = False
    hidden: bool = False
    # BAG only
    order_combo_legs: tuple[float | None, ...] = ()
    smart_combo_routing_params: tuple[TagValue, ...] = ()
    discretionary_amt: float | None = None
    good_after_time: str = ""
    good_till_date: str = ""
    fa_group: str = ""
    fa_method: str = ""
    fa_percentage: str = ""
    fa_profile: str = ""
    model_code: str = ""
    short_sale_slot: int | None = None
    designated_location: str = ""
    exempt_code: int | None = None
    oca_type: int | None = None
    rule80a: str = ""
    settling_firm: str = ""
    all_or_none: bool = False
    min_qty: int | None = None
    percent_offset: float | None = None
    e_trade_only: bool = False
    firm_quote_only: bool = False
    nbbo_price_cap: float | None = None
    auction_strategy: int | None = None
    starting_price: float | None = None
    stock_ref_price: float | None = None
    delta: float | None = None
    stock_range_lower: float | None = None
    stock_range_upper: float | None = None
    override_percentage_constraints: bool = False
    volatility: float | None = None
    volatility_type: int | None = None
    delta_neutral_order_type: str = ""
    delta_neutral_aux_price: float | None = None
    # only when delta_neutral_order_type is non-empty
    delta_neutral_con_id: int | None = None
    delta_neutral_settling_firm: str = ""
    delta_neutral_clearing_account: str = ""
    delta_neutral_clearing_intent: str = ""
    delta_neutral_open_close: str = ""
    delta_neutral_short_sale: bool = False
    delta_neutral_short_sale_slot: int | None = None
    delta_neutral_designated_location: str = ""
    continuous_update: bool = False
    reference_price_type: int | None = None
    trail_stop_price: float | None = None
    trailing_percent: float | None = None
    scale_init_level_size: int | None = None
    scale_subs_level_size: int | None = None
    scale_price_increment: float | None = None
    # only when 0 < scale_price_increment < UNSET_DOUBLE
    scale_price_adjust_value: float | None = None
    scale_price_adjust_interval: int | None = None
    scale_profit_offset: float | None = None
    scale_auto_reset: bool = False
    scale_init_position: int | None = None
    scale_init_fill_qty: int | None = None
    scale_random_percent: bool = False
    scale_table: str = ""
    active_start_time: str = ""
    active_stop_time: str = ""
    hedge_type: str = ""
    hedge_param: str = ""
    opt_out_smart_routing: bool = False
    clearing_account: str = ""
    clearing_intent: str = ""
    not_held: bool = False
    algo_strategy: str = ""
    algo_params: tuple[TagValue, ...] = ()
    algo_id: str = ""
    what_if: bool = False
    order_misc_options: tuple[TagValue, ...] = ()
    solicited: bool = False
    randomize_size: bool = False
    randomize_price: bool = False
    # only for PEG BENCH
    reference_contract_id: int | None = None
    is_pegged_change_amount_decrease: bool = False
    pegged_change_amount: float | None = None
    reference_change_amount: float | None = None
    reference_exchange_id: str = ""
    conditions: tuple[WireCondition, ...] = ()
    conditions_ignore_rth: bool = False
    conditions_cancel_order: bool = False
    adjusted_order_type: str = ""
    trigger_price: float | None = None
    lmt_price_offset: float | None = None
    adjusted_stop_price: float | None = None
    adjusted_stop_limit_price: float | None = None
    adjusted_trailing_amount: float | None = None
    adjustable_trailing_unit: int | None = None
    ext_operator: str = ""
    soft_dollar_tier_name: str = ""
    soft_dollar_tier_val: str = ""
    cash_qty: float | None = None
    mifid2_decision_maker: str = ""
    mifid2_decision_algo: str = ""
    mifid2_execution_trader: str = ""
    mifid2_execution_algo: str = ""
    dont_use_auto_price_for_hedge: bool = False
    is_oms_container: bool = False
    discretionary_up_to_limit_price: bool = False
    use_price_mgmt_algo: bool | None = None
    duration: int | None = None
    post_to_ats: int | None = None
    auto_cancel_parent: bool = False
    advanced_error_override: str = ""
    manual_order_time: str = ""
    # IBKRATS only
    min_trade_qty: int | None = None
    # PEG BEST / PEG MID only
    min_compete_size: int | None = None
    compete_against_best_offset: float | None = None
    mid_offset_at_whole: float | None = None
    mid_offset_at_half: float | None = None
    # never sent by the client: the gateway's side of openOrder / completedOrder
    client_id: int | None = None
    perm_id: int | None = None
    soft_dollar_tier_display_name: str = ""
    auto_cancel_date: str = ""
    filled_quantity: float | None = None
    ref_futures_con_id: int | None = None
    shareholder: str = ""
    imbalance_only: bool = False
    route_marketable_to_bbo: bool = False
    parent_perm_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WireOrderState:
    """The order-state block of ``openOrder`` (and status + completion of ``completedOrder``).

    For a whatIf answer the margin fields must be numbers: ib_async completes the request only when
    ``initMarginChange`` is not unset. Unset margins are written as ``1.7976931348623157E308``, as TWS does.
    """

    status: str
    init_margin_before: float | None = None
    maint_margin_before: float | None = None
    equity_with_loan_before: float | None = None
    init_margin_change: float | None = None
    maint_margin_change: float | None = None
    equity_with_loan_change: float | None = None
    init_margin_after: float | None = None
    maint_margin_after: float | None = None
    equity_with_loan_after: float | None = None
    commission: float | None = None
    min_commission: float | None = None
    max_commission: float | None = None
    commission_currency: str = ""
    warning_text: str = ""
    completed_time: str = ""
    completed_status: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WireExecution:
    """One fill as ``execDetails`` carries it; ``time`` must be timezone-aware (it is written in UTC)."""

    exec_id: str
    time: datetime
    acct_number: str
    exchange: str
    side: str
    shares: float
    price: float
    perm_id: int
    client_id: int
    liquidation: int = 0
    cum_qty: float = 0.0
    avg_price: float = 0.0
    order_ref: str = ""
    ev_rule: str = ""
    ev_multiplier: float | None = None
    model_code: str = ""
    last_liquidity: int = 0
    pending_price_revision: bool = False
