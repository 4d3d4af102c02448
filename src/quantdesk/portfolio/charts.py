"""Charts of the efficient frontier and of risk contributions: interactive plotly HTML, and static PNG.

HTML pages load plotly.js once: by default from a shared ``plotly-<version>.min.js`` written next to them (so they
open offline and each page stays small), or from the CDN (``plotlyjs="cdn"``), or embedded (``plotlyjs="inline"``).
PNG files are drawn with matplotlib (no browser needed, so they work on a headless server); plotly's own static
export needs ``kaleido`` and a Chrome, which quantdesk does not install, so :func:`write_image` refuses without it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from quantdesk.errors import ValidationError
from quantdesk.portfolio._result import OptimizationResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PLOTLYJS_CHOICES",
    "FrontierData",
    "frontier_figure",
    "plotlyjs_script",
    "risk_contribution_figure",
    "write_frontier_html",
    "write_frontier_png",
    "write_image",
]


class FrontierData(Protocol):
    """What a frontier chart draws (``EfficientFrontier`` has it): charts know no optimiser, so the frontier
    module can draw itself through this one without an import cycle."""

    @property
    def points(self) -> pd.DataFrame:
        """Annualised ``expected_return``, ``volatility`` and ``sharpe`` per point, from minimum variance up."""

    @property
    def max_sharpe(self) -> int:
        """Index of the point with the best Sharpe ratio."""

    def assets(self) -> pd.DataFrame:
        """Each asset's annualised ``expected_return`` and ``volatility``."""


def frontier_figure(frontier: FrontierData, *, result: OptimizationResult | None = None) -> Any:
    """A plotly figure: the frontier, the assets, the minimum-variance and max-Sharpe points (and ``result``)."""
    import plotly.graph_objects as go  # type: ignore[import-untyped]

    pts = frontier.points
    assets = frontier.assets()
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=pts["volatility"],
            y=pts["expected_return"],
            mode="lines+markers",
            name="frontier",
            customdata=pts["sharpe"],
            hovertemplate="σ %{x:.2%}<br>E[r] %{y:.2%}<br>Sharpe %{customdata:.2f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=assets["volatility"],
            y=assets["expected_return"],
            mode="markers+text",
            text=list(assets.index),
            textposition="top center",
            name="assets",
            hovertemplate="%{text}<br>σ %{x:.2%}<br>E[r] %{y:.2%}<extra></extra>",
        )
    )
    best = frontier.max_sharpe
    for index, label, symbol in ((0, "min variance", "diamond"), (best, "max Sharpe", "star")):
        fig.add_trace(
            go.Scatter(
                x=[pts["volatility"].iloc[index]],
                y=[pts["expected_return"].iloc[index]],
                mode="markers",
                name=label,
                marker={"size": 14, "symbol": symbol},
            )
        )
    if result is not None:
        fig.add_trace(
            go.Scatter(
                x=[result.volatility],
                y=[result.expected_return],
                mode="markers",
                name=f"{result.method}",
                marker={"size": 14, "symbol": "x"},
            )
        )
    fig.update_layout(
        title="Efficient frontier (annualised)",
        xaxis_title="volatility",
        yaxis_title="expected return",
        xaxis_tickformat=".0%",
        yaxis_tickformat=".0%",
        template="plotly_white",
    )
    return fig


def risk_contribution_figure(result: OptimizationResult) -> Any:
    """A plotly bar chart of each asset's weight next to its share of portfolio risk."""
    import plotly.graph_objects as go

    table = result.table()
    fig = go.Figure()
    fig.add_trace(go.Bar(x=list(table.index), y=table["weight"], name="weight"))
    fig.add_trace(go.Bar(x=list(table.index), y=table["risk_contribution"], name="share of risk"))
    fig.update_layout(
        title=f"Weights and risk contributions: {result.method}",
        barmode="group",
        yaxis_tickformat=".0%",
        template="plotly_white",
    )
    return fig


PLOTLYJS_CHOICES = ("file", "cdn", "inline")


def plotlyjs_script(directory: Path, plotlyjs: str = "file") -> str:
    """The one ``<script>`` that loads plotly.js for a page in ``directory``; ``file`` writes the shared bundle
    there unless it is already present."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version  # type: ignore[import-untyped]

    version = get_plotlyjs_version()
    if plotlyjs == "file":
        bundle = directory / f"plotly-{version}.min.js"
        data = get_plotlyjs().encode("utf-8")
        if not bundle.is_file() or bundle.stat().st_size != len(data):  # absent, or cut short by a crash
            bundle.write_bytes(data)
        return f'<script charset="utf-8" src="{bundle.name}"></script>'
    if plotlyjs == "cdn":
        return f'<script charset="utf-8" src="https://cdn.plot.ly/plotly-{version}.min.js"></script>'
    if plotlyjs == "inline":
        return f'<script type="text/javascript">{get_plotlyjs()}</script>'
    raise ValidationError(
        f"unknown plotly.js source {plotlyjs!r}",
        field="plotlyjs",
        value=plotlyjs,
        hint="use " + ", ".join(PLOTLYJS_CHOICES),
    )


def write_frontier_html(
    path: str | Path,
    frontier: FrontierData,
    *,
    result: OptimizationResult | None = None,
    plotlyjs: str = "file",
) -> Path:
    """Write the frontier chart, and with ``result`` its risk-contribution chart, to one HTML page that loads
    plotly.js once (see the module docstring for ``plotlyjs``)."""
    target = Path(path)
    if target.suffix.lower() == ".png":
        return write_frontier_png(target, frontier, result=result)
    figures = [frontier_figure(frontier, result=result)]
    if result is not None:
        figures.append(risk_contribution_figure(result))
    target.parent.mkdir(parents=True, exist_ok=True)
    script = plotlyjs_script(target.parent, plotlyjs)
    parts = [fig.to_html(full_html=False, include_plotlyjs=False) for fig in figures]
    html = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>quantdesk frontier</title>"
        + script
        + "</head><body>"
        + "".join(parts)
        + "</body></html>"
    )
    target.write_text(html, encoding="utf-8")
    return target


def write_frontier_png(
    path: str | Path, frontier: FrontierData, *, result: OptimizationResult | None = None, dpi: int = 120
) -> Path:
    """Draw the frontier chart (the same series as the HTML one) and, with ``result``, its risk bars to a PNG."""
    import matplotlib as mpl

    mpl.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    pts = frontier.points
    assets = frontier.assets()
    rows = 2 if result is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(9, 5.5 * rows), squeeze=False)
    ax = axes[0][0]
    ax.plot(pts["volatility"], pts["expected_return"], "-o", markersize=3, label="frontier")
    ax.scatter(assets["volatility"], assets["expected_return"], s=14, color="grey", label="assets")
    for name, (vol, ret) in assets[["volatility", "expected_return"]].iterrows():
        ax.annotate(str(name), (vol, ret), fontsize=7, xytext=(2, 2), textcoords="offset points")
    best = frontier.max_sharpe
    ax.scatter(pts["volatility"].iloc[0], pts["expected_return"].iloc[0], marker="D", s=60, label="min variance")
    ax.scatter(pts["volatility"].iloc[best], pts["expected_return"].iloc[best], marker="*", s=140, label="max Sharpe")
    if result is not None:
        ax.scatter(result.volatility, result.expected_return, marker="X", s=80, label=result.method)
    ax.set(title="Efficient frontier (annualised)", xlabel="volatility", ylabel="expected return")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if result is not None:
        table = result.table()
        bars = axes[1][0]
        x = range(len(table))
        bars.bar([i - 0.2 for i in x], table["weight"], width=0.4, label="weight")
        bars.bar([i + 0.2 for i in x], table["risk_contribution"], width=0.4, label="share of risk")
        bars.set_xticks(list(x), [str(i) for i in table.index], rotation=60, fontsize=7)
        bars.yaxis.set_major_formatter(PercentFormatter(1.0))
        bars.set_title(f"Weights and risk contributions: {result.method}")
        bars.legend(fontsize=8)
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=dpi, format="png")
    plt.close(fig)
    return target


def write_image(path: str | Path, figure: Any) -> Path:
    """Write ``figure`` as a static image (PNG, SVG, …); needs the ``kaleido`` package."""
    if importlib.util.find_spec("kaleido") is None:
        raise ValidationError(
            "writing a PNG needs the kaleido package, which is not installed",
            field="path",
            value=str(path),
            hint="write .html instead, or install kaleido (pip install kaleido)",
        )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.write_image(str(target))
    return target
