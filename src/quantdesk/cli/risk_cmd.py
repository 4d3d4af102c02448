"""``quantdesk risk``: VaR/CVaR, per-position risk, margin utilisation and exposure of an account or a positions file.

A thin shell over ``quantdesk.services.risk_report``; the service (and with it pandas, scipy and the IB adapter) is
imported inside the command, so registering it costs nothing. Nothing is traded.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.context import output_from, settings_from
from quantdesk.cli.output import Col, Output
from quantdesk.config import Settings
from quantdesk.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from quantdesk.risk.analytics.exposure import ExposureRow
    from quantdesk.risk.analytics.report import RiskReport

__all__ = ["risk"]

_LEVEL_COLOUR = {"ok": "green", "warning": "yellow", "critical": "red"}


class RiskBroker(StrEnum):
    """Where ``risk`` reads the account."""

    GATEWAY = "gateway"
    IB = "ib"


class RiskMethod(StrEnum):
    """A VaR method."""

    HISTORICAL = "historical"
    PARAMETRIC = "parametric"
    MONTE_CARLO = "monte_carlo"


def _fx_rates(items: list[str]) -> dict[str, float]:
    rates: dict[str, float] = {}
    for item in items:
        ccy, sep, text = item.partition("=")
        try:
            rate = float(text)
        except ValueError:
            rate = float("nan")
        if not sep or len(ccy.strip()) != 3 or not rate > 0:
            raise ConfigError(
                f"{item!r} is not CCY=RATE with a positive rate",
                field="--fx-rate",
                value=item,
                hint="write it as --fx-rate EUR=1.08 (base currency per 1 EUR)",
            )
        rates[ccy.strip().upper()] = rate
    return rates


def _check_options(
    confidence: float, broker: RiskBroker | None, positions: Path | None, cash: float | None, account: str | None
) -> None:
    if not 0.0 < confidence < 1.0:
        raise ConfigError(
            f"confidence must lie strictly between 0 and 1, got {confidence:g}",
            field="--confidence",
            value=confidence,
            hint="pass a level such as --confidence 0.95 or --confidence 0.99",
        )
    if positions is not None and broker is not None:
        raise ConfigError(
            "--positions and --broker exclude each other",
            field="--positions",
            hint="read the account at a broker (--broker) or the holdings of a file (--positions), not both",
        )
    if cash is not None and positions is None:
        raise ConfigError("--cash only applies to --positions", field="--cash", hint="add --positions FILE")
    if account is not None and positions is not None:
        raise ConfigError(
            "--account only applies to a broker", field="--account", hint="drop --account, or read a broker"
        )


def _money(x: float | None) -> str:
    return "" if x is None else f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.2%}"


def _exposure_rows(rows: tuple[ExposureRow, ...]) -> list[list[str]]:
    return [
        [
            r.key,
            str(r.positions),
            _money(r.long),
            _money(r.short),
            _money(r.gross),
            _money(r.net),
            _pct(r.pct(r.gross)),
            _pct(r.pct(r.net)),
        ]
        for r in rows
    ]


def print_report(out: Output, report: RiskReport) -> None:
    """Print the report as tables and lines (nothing in JSON mode)."""
    if out.as_json:
        return
    ccy = report.base_currency
    days = f"{report.horizon_days} day" + ("s" if report.horizon_days > 1 else "")
    span = report.history
    history = (
        f"history {span['start']:%Y-%m-%d} to {span['end']:%Y-%m-%d} ({span['observations']} days)"
        if "start" in span
        else "no history"
    )
    out.message(
        f"Risk of [bold]{escape(report.source)}[/bold]: net liquidation {_money(report.net_liquidation)} {ccy}; "
        f"confidence {report.confidence:.1%}, horizon {days}; {history}"
    )
    if not report.positions:
        out.message("The account holds no positions: nothing is at risk.")
        _print_margin(out, report)
        return
    title = f"VaR and CVaR ({report.confidence:.1%}, {days}, {ccy}; losses are positive)"
    out.table(
        title,
        ["method", "VaR", "VaR %", "CVaR", "CVaR %", "observations"],
        [
            [r.method, _money(r.var), _pct(r.var_pct), _money(r.cvar), _pct(r.cvar_pct), r.observations]
            for r in report.var
        ],
    )
    by_method = {r.method: {p.symbol: p for p in r.positions} for r in report.var}
    methods = list(by_method)
    from quantdesk.cli.cells import instrument_label, price, quantity

    # at 80 columns the parametric VaR and its components stay; class, currency and the other methods give way
    columns: list[str | Col] = ["instrument", Col("class", drop=6), Col("ccy", drop=5), "quantity", "price"]
    columns += [f"value ({ccy})", "weight"]
    columns += [Col(f"{m} VaR", drop=0 if m == "parametric" else 2) for m in methods]
    if "parametric" in by_method:
        columns += ["component VaR", Col("marginal VaR", drop=3)]
    rows: list[list[Any]] = []
    for p in report.positions:
        row: list[Any] = [
            instrument_label(p.label),
            p.asset_class,
            p.currency,
            quantity(p.quantity),
            price(p.price, p.label),
        ]
        row += [_money(p.market_value), _pct(p.weight)]
        found = {m: by_method[m].get(p.risk_key or "") for m in methods}
        row += [_money(f.var) if f is not None else "—" for f in found.values()]
        if "parametric" in by_method:
            f = found["parametric"]
            row += [_money(f.component_var), f"{f.marginal_var:.4f}"] if f is not None else ["—", "—"]
        rows.append(row)
    out.table("Positions (standalone VaR; components sum to the parametric VaR)", columns, rows)
    _print_margin(out, report, warnings=False)
    heads = ["", "positions", "long", "short", "gross", "net", "gross % NL", "net % NL"]
    exp = report.exposure
    out.table(f"Exposure by asset class ({ccy})", heads, [*_exposure_rows(exp.by_asset_class), *_total(exp.total)])
    out.table(f"Exposure by currency ({ccy})", heads, _exposure_rows(exp.by_currency))
    for w in report.warnings:
        out.message(f"[yellow]warning:[/yellow] {escape(w)}")


def _print_margin(out: Output, report: RiskReport, *, warnings: bool = True) -> None:
    if report.margin is not None:
        m = report.margin
        colour = _LEVEL_COLOUR[m.level.value]
        out.message(f"margin: [{colour}]{m.level.value.upper()}[/{colour}] {escape(m.message)}")
    if warnings:
        for w in report.warnings:
            out.message(f"[yellow]warning:[/yellow] {escape(w)}")


def _total(row: ExposureRow) -> list[list[str]]:
    return _exposure_rows((row,)) if row.positions else []


async def _from_broker(kind: RiskBroker, settings: Settings, **options: Any) -> RiskReport:
    from quantdesk.services import brokers
    from quantdesk.services.risk_report import risk_report_from_broker

    async with brokers.open_broker(kind.value, settings) as broker:
        return await risk_report_from_broker(broker, settings, **options)


def risk(
    ctx: typer.Context,
    broker: Annotated[
        RiskBroker | None,
        typer.Option(
            "--broker",
            "-b",
            case_sensitive=False,
            help="gateway (in-process paper simulator) or ib (settings.ib). Default: gateway.",
        ),
    ] = None,
    positions: Annotated[
        Path | None,
        typer.Option("--positions", help="Holdings file instead of a broker: CSV symbol,quantity[,price] or JSON."),
    ] = None,
    cash: Annotated[float | None, typer.Option("--cash", help="Cash, overriding the positions file's.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Account id (default: the login's first).")] = None,
    confidence: Annotated[float, typer.Option("--confidence", help="Confidence level, e.g. 0.95 or 0.99.")] = 0.95,
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="Horizon in trading days.")] = 1,
    lookback: Annotated[int, typer.Option("--lookback", min=2, help="Days of return history used.")] = 504,
    method: Annotated[
        list[RiskMethod] | None,
        typer.Option("--method", "-m", case_sensitive=False, help="VaR method (repeatable). Default: all three."),
    ] = None,
    prices: Annotated[
        str | None,
        typer.Option("--prices", help="Price history: sample, sample:AAPL,… or a CSV/Parquet of closes."),
    ] = None,
    fx_rate: Annotated[
        list[str] | None,
        typer.Option("--fx-rate", help="CCY=RATE, base currency per unit (repeatable; overrides the account's rates)."),
    ] = None,
    include_mean: Annotated[
        bool, typer.Option("--include-mean", help="Subtract the expected P&L (parametric, Monte Carlo).")
    ] = False,
    scenarios: Annotated[int, typer.Option("--scenarios", min=100, help="Monte Carlo scenarios.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Monte Carlo seed.")] = 42,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")] = False,
) -> None:
    """Show VaR/CVaR (historical, parametric, Monte Carlo), per-position risk, margin and exposure."""
    _check_options(confidence, broker, positions, cash, account)
    settings = settings_from(ctx)
    out = output_from(json_)
    history: pd.DataFrame | None = None
    if prices is not None:
        from quantdesk.services.portfolio import universe_prices

        history = universe_prices(prices)
    options: dict[str, Any] = {
        "confidence": confidence,
        "horizon_days": horizon,
        "lookback_days": lookback,
        "methods": [m.value for m in method] if method else ["historical", "parametric", "monte_carlo"],
        "prices": history,
        "fx_rates": _fx_rates(fx_rate or []),
        "include_mean": include_mean,
        "n_scenarios": scenarios,
        "seed": seed,
    }
    if positions is not None:
        from quantdesk.services.risk_report import risk_report_from_positions

        report = risk_report_from_positions(positions, settings, cash=cash, **options)
    else:
        report = asyncio.run(_from_broker(broker or RiskBroker.GATEWAY, settings, account=account, **options))
    if out.as_json:
        out.json({"mode": settings.mode, **report.to_dict()})
        return
    print_report(out, report)
