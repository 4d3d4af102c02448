"""``quantdesk demo``: the main job end to end, as far as the platform goes today.

Today it loads the real S&P 500 sample (bundled with skfolio) into the bar store and summarises it. Each later
capability (optimisation, the gateway, rebalancing, backtests) extends it until it runs the whole pipeline.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape

from quantdesk.cli.context import output_from, settings_from

__all__ = ["demo"]


def demo(
    ctx: typer.Context,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")] = False,
) -> None:
    """Run the demo: load the real S&P 500 sample into the bar store and summarise it (paper mode, no orders)."""
    from quantdesk.cli.data_cmd import print_sample_summary
    from quantdesk.services import datasets

    settings = settings_from(ctx)
    out = output_from(json_)
    out.message(
        f"[bold]quantdesk demo[/bold] - mode [green]{settings.mode}[/green], "
        f"data directory {escape(str(settings.paths.data_dir))}"
    )
    started = time.perf_counter()
    result = datasets.load_sample(datasets.open_store(settings.paths.data_dir))
    elapsed = time.perf_counter() - started
    doc = result.to_dict()
    if out.as_json:
        out.json({"mode": settings.mode, "data_dir": str(settings.paths.data_dir), "sample": doc, "seconds": elapsed})
        return
    print_sample_summary(out, "S&P 500 sample (daily, adjusted) in the bar store", doc["symbols"])
    best = max(result.symbols, key=lambda s: s.total_return if s.total_return == s.total_return else -1e300)
    out.message(
        f"Stored {len(result.symbols)} symbols and {result.rows:,} daily bars "
        f"({doc['first'][:10]} to {doc['last'][:10]}) in {elapsed:.1f} s; "
        f"best performer {best.symbol} ({best.total_return:+.0%})."
    )
    out.message(
        "Next: `quantdesk data show AAPL`, `quantdesk data list`, `quantdesk config show`. "
        "Nothing here places orders; quantdesk runs in paper mode unless live is configured and confirmed."
    )
