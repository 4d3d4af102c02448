"""``quantdesk data list | import | show | sample``: the bar store at ``<paths.data_dir>/bars``.

pandas and pyarrow are imported inside the commands, so registering this group costs other commands nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from quantdesk.cli.context import output_from, settings_from
from quantdesk.cli.output import Col, Output

if TYPE_CHECKING:
    from quantdesk.data.bar_store import BarStore

__all__ = ["app"]

app = typer.Typer(
    help="Market data in the local bar store: list it, import CSV/Parquet files, show a series, load the sample.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]
BarSizeOpt = Annotated[str, typer.Option("--bar-size", "-b", help="Bar size: 1day, 1hour, 5min, … (IB spellings too).")]


def _store(ctx: typer.Context) -> BarStore:
    from quantdesk.data.bar_store import BarStore

    return BarStore.in_data_dir(settings_from(ctx).paths.data_dir)


def _pct(x: float | None, sign: bool = True) -> str:
    if x is None or x != x:  # NaN: one bar has no return or volatility
        return "n/a"
    return f"{x:+.2%}" if sign else f"{x:.2%}"


def _date(iso: str | None) -> str:
    if iso is None:
        return ""
    return iso[:10] if iso[10:19] in ("", "T00:00:00") else iso[:19].replace("T", " ")


@app.command("list")
def list_(ctx: typer.Context, json_: JsonFlag = False) -> None:
    """List the series in the store: instrument, bar size, rows, span, source."""
    from quantdesk.services import datasets

    store = _store(ctx)
    entries = [e.to_dict() for e in datasets.list_datasets(store)]
    out = output_from(json_)
    if not entries and not out.as_json:
        out.message(f"The store at {escape(str(store.root))} is empty: try `quantdesk data sample`.")
        return
    if out.as_json:
        out.json({"store": str(store.root), "datasets": entries})
        return
    from quantdesk.cli.cells import bar_size_words

    out.table(
        f"Bar store {escape(str(store.root))}",
        ["instrument", "bar size", "bars", "first", "last", Col("source", drop=2), Col("adj", drop=1)],
        [
            [
                e["instrument"],
                bar_size_words(e["bar_size"]),
                e["rows"],
                _date(e["first_ts"]),
                _date(e["last_ts"]),
                e["source"],
                "yes" if e["adjusted"] else "no",
            ]
            for e in entries
        ],
    )


@app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A CSV (.csv, .csv.gz) or Parquet file of bars.")],
    symbol: Annotated[str, typer.Option("--symbol", help="Store the bars under this symbol or instrument id.")],
    bar_size: BarSizeOpt = "1day",
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, parquet or auto (from the suffix).")] = "auto",
    tz: Annotated[
        str | None, typer.Option("--tz", help="Time zone of naive timestamps in the file (default UTC).")
    ] = None,
    adjusted: Annotated[
        bool, typer.Option("--adjusted", help="Prices are split/dividend adjusted (uses an 'Adj Close' column).")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Replace the stored series instead of merging.")] = False,
    json_: JsonFlag = False,
) -> None:
    """Validate a file of bars and add it to the store; a bad file is reported by line and changes nothing."""
    from quantdesk.services import datasets

    result = datasets.import_file(
        _store(ctx),
        path,
        symbol,
        bar_size=bar_size,
        fmt=fmt,
        tz=tz,
        adjusted=adjusted,
        mode="replace" if replace else "merge",
    )
    from quantdesk.cli.cells import bar_size_words, plural

    d = result.to_dict()
    ds = d["dataset"]
    text = (
        f"Imported {plural(result.rows_read, 'bar')} from {escape(Path(result.path).name)} into "
        f"[bold]{escape(ds['instrument'])}[/bold] {bar_size_words(ds['bar_size'])} bars ({result.mode}): "
        f"now {plural(ds['rows'], 'bar')}, {_date(ds['first_ts'])} to {_date(ds['last_ts'])}."
    )
    output_from(json_).result(d, text=text)


def print_sample_summary(out: Output, title: str, rows: list[dict[str, object]]) -> None:
    """Print one row per symbol of a sample summary: span, last close, total return, volatility."""
    from quantdesk.cli.cells import float_prices

    closes = float_prices([c if isinstance(c := r["last_close"], float | int) else None for r in rows])
    out.table(
        title,
        ["symbol", "bars", "first", "last", "close", "return", "vol (ann.)"],
        [
            [
                r["symbol"],
                r["rows"],
                _date(r["first"]) if isinstance(r["first"], str) else "",
                _date(r["last"]) if isinstance(r["last"], str) else "",
                close,
                _pct(r["total_return"]) if isinstance(r["total_return"], float) else "",
                _pct(r["ann_volatility"], sign=False) if isinstance(r["ann_volatility"], float) else "",
            ]
            for r, close in zip(rows, closes, strict=True)
        ],
        empty="no symbols",
    )


@app.command("show")
def show(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="Symbol or instrument id as stored (see `quantdesk data list`).")],
    bar_size: BarSizeOpt = "1day",
    start: Annotated[str | None, typer.Option("--start", help="First date or UTC timestamp (inclusive).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last date (whole day) or UTC timestamp.")] = None,
    tail: Annotated[int, typer.Option("--tail", "-n", help="Show the last N bars.")] = 10,
    head: Annotated[int | None, typer.Option("--head", help="Show the first N bars instead.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Show one series: summary of the range (return, volatility, drawdown) and its first or last bars."""
    from quantdesk.services import datasets

    view = datasets.show(_store(ctx), symbol, bar_size, start=start, end=end, tail=tail, head=head)
    out = output_from(json_)
    doc = view.to_dict()
    if out.as_json:
        out.json(doc)
        return
    from quantdesk.cli.cells import bar_size_words, float_prices, plural, volume

    s, st = doc["summary"], doc["stats"]
    instrument = view.entry.instrument
    bars = doc["bars"]
    prices = {k: float_prices([r[k] for r in bars], instrument) for k in ("open", "high", "low", "close")}
    out.table(
        f"{instrument} {bar_size_words(view.entry.bar_size)} bars ({view.entry.source}"
        f"{', adjusted' if view.entry.adjusted else ''})",
        ["time (UTC)", "open", "high", "low", "close", "volume"],
        [
            [_date(r["ts"]), *(prices[k][i] for k in ("open", "high", "low", "close")), volume(r["volume"])]
            for i, r in enumerate(bars)
        ],
        empty=f"no {bar_size_words(view.entry.bar_size)} bars of {instrument} in that range",
    )
    if not s["rows"]:
        return
    (last_close,) = float_prices([s["last_close"]], instrument)
    out.message(
        f"{plural(s['rows'], 'bar')} {_date(s['first'])} to {_date(s['last'])}: last close {last_close}, "
        f"total return {_pct(s['total_return'])}, annualised volatility {_pct(s['ann_volatility'], sign=False)}, "
        f"max drawdown {_pct(st['max_drawdown'])}"
    )


@app.command("sample")
def sample(
    ctx: typer.Context,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Comma-separated tickers (default: all 20), e.g. AAPL,MSFT.")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Load the bundled S&P 500 sample (20 stocks, daily, 1990-2022, adjusted) into the store."""
    from quantdesk.services import datasets

    result = datasets.load_sample(_store(ctx), symbols)
    out = output_from(json_)
    doc = result.to_dict()
    if out.as_json:
        out.json(doc)
        return
    print_sample_summary(out, f"S&P 500 sample -> {escape(result.store)}", doc["symbols"])
    out.message(
        f"Stored {len(result.symbols)} symbol{'' if len(result.symbols) == 1 else 's'}, "
        f"{result.rows:,} daily bar{'' if result.rows == 1 else 's'}, "
        f"{_date(doc['first'])} to {_date(doc['last'])} (source {result.source})."
    )
