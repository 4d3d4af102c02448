"""The risk report of an account or a positions file: VaR/CVaR by method, per-position risk, margin, exposure.

Positions and the account summary come from any ``Broker`` (or a holdings file); daily price history for the held
instruments from ``prices`` when given, else the local bar store, else the bundled S&P 500 sample. An instrument
without history is reported in ``warnings`` and left out of VaR (its exposure still counts), never silently. The
CLI (``quantdesk risk``) and the REST API call these functions; they never print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from quantdesk.brokers.base import Broker
from quantdesk.config import Settings
from quantdesk.domain.accounts import AccountSnapshot
from quantdesk.domain.identifiers import AccountId
from quantdesk.domain.instrument_codes import AssetClass
from quantdesk.domain.instruments import Stock
from quantdesk.domain.market import BarSize
from quantdesk.domain.values import Currency, Numeric
from quantdesk.errors import DataError, QuantdeskError, ValidationError
from quantdesk.portfolio.holdings import load_holdings_file, quotes_from_broker
from quantdesk.risk.analytics.exposure import HeldPosition, exposure_report, parse_instrument_id
from quantdesk.risk.analytics.margin import margin_status_from_settings
from quantdesk.risk.analytics.report import PositionLine, RiskReport
from quantdesk.risk.analytics.returns import check_confidence, check_horizon, returns_from_prices
from quantdesk.risk.analytics.var import VAR_METHODS, VaRResult, compute_var

__all__ = [
    "PositionLine",
    "RiskReport",
    "price_history",
    "risk_key",
    "risk_report_from_broker",
    "risk_report_from_holdings",
    "risk_report_from_positions",
]

DEFAULT_LOOKBACK_DAYS = 504


def _check_request(confidence: float, horizon_days: int, lookback_days: int, methods: Sequence[str]) -> None:
    check_confidence(confidence)
    check_horizon(horizon_days)
    if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or lookback_days < 2:
        raise ValidationError(
            f"must be a whole number of days >= 2, got {lookback_days!r}",
            field="lookback_days",
            value=lookback_days,
            hint=f"use {DEFAULT_LOOKBACK_DAYS} (two years of trading days)",
        )
    unknown = [m for m in methods if str(m).strip().lower().replace("-", "_") not in VAR_METHODS]
    if unknown or not methods:
        raise ValidationError(
            f"unknown VaR method(s): {', '.join(map(str, unknown)) or 'none given'}",
            field="methods",
            value=list(methods),
            hint=f"use one or more of {', '.join(VAR_METHODS)}",
        )


def risk_key(position: HeldPosition) -> str:
    """The name of a position's price history: the symbol for stocks, the instrument id for everything else."""
    return position.symbol if position.asset_class is AssetClass.STOCK else position.label


def price_history(
    keys: Sequence[str], settings: Settings, prices: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Daily closes of ``keys`` (one column each, where found) and where each came from.

    With ``prices`` only its columns count; else the bar store of ``settings.paths.data_dir``, then the sample.
    """
    wanted = list(dict.fromkeys(keys))
    if prices is not None:
        found = [k for k in wanted if k in prices.columns]
        return prices[found].astype("float64"), dict.fromkeys(found, "prices")
    from quantdesk.data import load_sample_prices, sample_symbols
    from quantdesk.services.datasets import open_store

    store = open_store(settings.paths.data_dir)
    columns: dict[str, pd.Series[float]] = {}
    sources: dict[str, str] = {}
    for key in wanted:
        try:
            held = store.has(key, BarSize.DAY_1)
        except QuantdeskError:  # not a valid store key: no history there
            held = False
        if held:
            columns[key] = store.read(key, BarSize.DAY_1, columns=["close"])["close"]
            sources[key] = "bar store"
    in_sample = [k for k in wanted if k not in columns and k in set(sample_symbols())]
    if in_sample:
        sample = load_sample_prices(in_sample)
        for key in in_sample:
            columns[key] = sample[key]
            sources[key] = "sample"
    frame = pd.concat(columns, axis=1, sort=True) if columns else pd.DataFrame()
    return frame, sources


def _last_close(closes: pd.DataFrame, key: str) -> tuple[Decimal, str] | None:
    if key not in closes.columns:
        return None
    col = closes[key].dropna()
    if col.empty:
        return None
    return Decimal(repr(float(col.iloc[-1]))), f"last close {pd.Timestamp(col.index[-1]).date()}"


def risk_report_from_holdings(
    positions: Sequence[HeldPosition],
    settings: Settings | None = None,
    *,
    net_liquidation: Numeric,
    base_currency: Currency | str = "USD",
    snapshot: AccountSnapshot | None = None,
    account: str | None = None,
    source: str = "positions",
    confidence: float = 0.95,
    horizon_days: int = 1,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    methods: Sequence[str] = VAR_METHODS,
    prices: pd.DataFrame | None = None,
    fx_rates: Mapping[str, Numeric] | None = None,
    price_sources: Mapping[str, str] | None = None,
    warnings: Sequence[str] = (),
    include_mean: bool = False,
    n_scenarios: int = 100_000,
    seed: int | None = 42,
    closes: pd.DataFrame | None = None,
    history_sources: Mapping[str, str] | None = None,
) -> RiskReport:
    """The report for priced ``positions``: the core both the broker and the file variants end in.

    ``closes`` / ``history_sources`` are a ``price_history`` result already loaded (else it is loaded here).
    """
    cfg = settings or Settings()
    _check_request(confidence, horizon_days, lookback_days, methods)
    base = Currency.of(base_currency)
    notes = list(warnings)
    nl = float(Decimal(str(net_liquidation)))
    exposure = exposure_report(positions, base_currency=base, fx_rates=fx_rates, net_liquidation=nl)
    keys = [risk_key(p) for p in positions]
    if closes is None:
        closes, history_sources = price_history(keys, cfg, prices)
    sources = dict(history_sources or {})
    values: dict[str, float] = {}
    lines: list[PositionLine] = []
    for p, key in zip(positions, keys, strict=True):
        mv = float(p.base_value(base, fx_rates))
        known = key in sources and key in closes.columns and bool(closes[key].notna().sum() > 1)
        if known:
            values[key] = values.get(key, 0.0) + mv
        else:
            notes.append(
                f"no price history for {p.label}: left out of VaR (its exposure is counted); "
                "load daily bars with `quantdesk data import` or pass a prices file"
            )
        lines.append(
            PositionLine(
                p.label,
                p.symbol,
                p.asset_class.name.lower(),
                p.currency.code,
                p.quantity,
                p.price,
                p.multiplier,
                mv,
                mv / nl if nl > 0 else None,
                (price_sources or {}).get(p.label, "given"),
                key if known else None,
            )
        )
    var_results: tuple[VaRResult, ...] = ()
    history: dict[str, Any] = {"sources": {k: sources[k] for k in values}}
    if values:
        returns = returns_from_prices(closes[list(values)]).dropna(how="any")
        window = returns.iloc[-lookback_days:]
        if len(window) < lookback_days:
            notes.append(f"only {len(window)} days of common history, fewer than the {lookback_days}-day lookback")
        pv = nl
        if nl <= 0:
            pv = sum(abs(v) for v in values.values())
            notes.append(f"net liquidation is {nl:,.2f}: VaR fractions are of the gross position value instead")
        results = compute_var(
            window,
            values,
            methods=methods,
            confidence=confidence,
            horizon_days=horizon_days,
            portfolio_value=pv,
            include_mean=include_mean,
            n_scenarios=n_scenarios,
            seed=seed,
        )
        var_results = tuple(results.values())
        history.update({"start": window.index[0], "end": window.index[-1], "observations": len(window)})
    elif positions:
        notes.append("no position has price history: VaR was not computed")
    margin = None if snapshot is None else margin_status_from_settings(snapshot, cfg.risk)
    if snapshot is None:
        notes.append("no margin figures: a positions file carries none (use --broker for margin utilisation)")
    return RiskReport(
        source=source,
        account=account,
        base_currency=base.code,
        ts=snapshot.ts if snapshot is not None else datetime.now(UTC),
        confidence=float(confidence),
        horizon_days=int(horizon_days),
        lookback_days=lookback_days,
        net_liquidation=nl,
        positions=tuple(lines),
        var=var_results,
        exposure=exposure,
        margin=margin,
        history=history,
        warnings=tuple(notes),
    )


async def risk_report_from_broker(
    broker: Broker,
    settings: Settings | None = None,
    *,
    account: str | None = None,
    confidence: float = 0.95,
    horizon_days: int = 1,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    methods: Sequence[str] = VAR_METHODS,
    prices: pd.DataFrame | None = None,
    fx_rates: Mapping[str, Numeric] | None = None,
    include_mean: bool = False,
    n_scenarios: int = 100_000,
    seed: int | None = 42,
) -> RiskReport:
    """The report of ``account`` (the default one when None) at ``broker``, margin thresholds from ``settings``.

    Positions are priced at the broker's mark, else a quote's mid (stocks), else the last close of the history,
    else the average cost; every fallback is named in ``warnings``. Exchange rates are the account's, overridden
    by ``fx_rates``.
    """
    cfg = settings or Settings()
    _check_request(confidence, horizon_days, lookback_days, methods)
    snapshot = await broker.account_summary(AccountId(account) if account else None)
    reports = [r for r in await broker.positions(snapshot.account) if r.quantity != 0]
    drafts = [(r, *parse_instrument_id(r.instrument_id)) for r in reports]
    unpriced = [
        Stock(sym, exchange=exch, currency=ccy)
        for r, sym, kind, exch, ccy in drafts
        if kind is AssetClass.STOCK and not (r.market_price and r.market_price > 0)
    ]
    quotes = await quotes_from_broker(broker, unpriced, missing_ok=True) if unpriced else {}
    keys = [sym if kind is AssetClass.STOCK else r.instrument_id.value for r, sym, kind, _, _ in drafts]
    closes, sources = price_history(keys, cfg, prices)
    positions: list[HeldPosition] = []
    price_sources: dict[str, str] = {}
    notes: list[str] = []
    for (r, sym, kind, _, _), key in zip(drafts, keys, strict=True):
        label = r.instrument_id.value
        if r.market_price is not None and r.market_price > 0:
            price, how = r.market_price, "broker mark"
        elif kind is AssetClass.STOCK and sym in quotes:
            price, how = quotes[sym], "quote mid"
        elif (last := _last_close(closes, key)) is not None:
            price, how = last
        else:
            price, how = r.average_cost, "average cost"
        if how != "broker mark":
            notes.append(f"{label} has no broker mark: priced at the {how}")
        price_sources[label] = how
        positions.append(HeldPosition.from_id(r.instrument_id, r.quantity, price, r.multiplier))
    return risk_report_from_holdings(
        positions,
        cfg,
        net_liquidation=snapshot.net_liquidation.amount,
        base_currency=snapshot.base_currency,
        snapshot=snapshot,
        account=snapshot.account.value,
        source=f"broker account {snapshot.account.value}",
        confidence=confidence,
        horizon_days=horizon_days,
        lookback_days=lookback_days,
        methods=methods,
        fx_rates={**{c.code: r for c, r in snapshot.exchange_rates.items()}, **(fx_rates or {})},
        price_sources=price_sources,
        warnings=notes,
        include_mean=include_mean,
        n_scenarios=n_scenarios,
        seed=seed,
        closes=closes,
        history_sources=sources,
    )


def _file_position(key: str, quantity: Decimal, price: Decimal, currency: Currency) -> HeldPosition:
    """A file row: an instrument id (``ES.FUT.CME.USD.20250321``) when it parses as one, else a stock."""
    if key.count(".") >= 3:
        try:
            return HeldPosition.from_id(key, quantity, price)
        except QuantdeskError:
            pass
    return HeldPosition(key, AssetClass.STOCK, currency, quantity, price)


def risk_report_from_positions(
    positions_file: Path | str,
    settings: Settings | None = None,
    *,
    cash: Numeric | None = None,
    confidence: float = 0.95,
    horizon_days: int = 1,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    methods: Sequence[str] = VAR_METHODS,
    prices: pd.DataFrame | None = None,
    fx_rates: Mapping[str, Numeric] | None = None,
    include_mean: bool = False,
    n_scenarios: int = 100_000,
    seed: int | None = 42,
) -> RiskReport:
    """The report of the holdings in a CSV/JSON file (see ``load_holdings_file``); no margin figures.

    Rows are stocks in the file's currency unless the symbol is an instrument id; each is priced at the file's
    price column, else the last close of its history (named in ``warnings``); with neither, ``DataError``.
    Net liquidation = cash + the positions' values.
    """
    cfg = settings or Settings()
    _check_request(confidence, horizon_days, lookback_days, methods)
    holdings = load_holdings_file(positions_file, cash=cash, option="--positions")  # errors name the flag
    rows = list(holdings.positions.items())
    drafts = [_file_position(sym, qty, Decimal(1), holdings.currency) for sym, qty in rows]
    keys = [risk_key(p) for p in drafts]
    closes, sources = price_history(keys, cfg, prices)
    priced: list[HeldPosition] = []
    price_sources: dict[str, str] = {}
    notes: list[str] = []
    for (name, _), draft, key in zip(rows, drafts, keys, strict=True):
        if name in holdings.marks:
            price, how = holdings.marks[name], "file"
        elif (last := _last_close(closes, key)) is not None:
            price, how = last
            notes.append(f"{draft.label} has no price in the file: priced at the {how}")
        else:
            raise DataError(
                f"no price for {draft.label}: the file gives none and there is no price history for it",
                field="--positions",
                value=draft.label,
                hint="add a price column (symbol,quantity,price) or load its daily bars into the store",
            )
        price_sources[draft.label] = how
        priced.append(replace(draft, price=price))
    net = holdings.cash + sum((p.base_value(holdings.currency, fx_rates) for p in priced), Decimal(0))
    return risk_report_from_holdings(
        priced,
        cfg,
        net_liquidation=net,
        base_currency=holdings.currency,
        account=None if holdings.account is None else holdings.account.value,
        source=f"positions file {Path(positions_file).name}",
        confidence=confidence,
        horizon_days=horizon_days,
        lookback_days=lookback_days,
        methods=methods,
        fx_rates=fx_rates,
        price_sources=price_sources,
        warnings=notes,
        include_mean=include_mean,
        n_scenarios=n_scenarios,
        seed=seed,
        closes=closes,
        history_sources=sources,
    )
