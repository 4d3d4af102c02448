"""Plotly charts of the efficient frontier and of risk contributions, written to HTML (PNG needs ``kaleido``).

HTML files embed plotly.js by default, so they open offline; pass ``include_plotlyjs="cdn"`` for a small file.
PNG export goes through plotly's ``kaleido`` package, which quantdesk does not install: without it
:func:`write_image` raises a :class:`~quantdesk.errors.ValidationError` that says so.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantdesk.errors import ValidationError
from quantdesk.portfolio._result import OptimizationResult

if TYPE_CHECKING:
    from quantdesk.portfolio.frontier import EfficientFrontier

__all__ = ["frontier_figure", "risk_contribution_figure", "write_frontier_html", "write_image"]


def frontier_figure(frontier: EfficientFrontier, *, result: OptimizationResult | None = None) -> Any:
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


def write_frontier_html(
    path: str | Path,
    frontier: EfficientFrontier,
    *,
    result: OptimizationResult | None = None,
    include_plotlyjs: bool | str = True,
) -> Path:
    """Write the frontier chart, and with ``result`` its risk-contribution chart, to one HTML page."""
    target = Path(path)
    if target.suffix.lower() == ".png":
        return write_image(target, frontier_figure(frontier, result=result))
    figures = [frontier_figure(frontier, result=result)]
    if result is not None:
        figures.append(risk_contribution_figure(result))
    parts = [
        fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs if i == 0 else False)
        for i, fig in enumerate(figures)
    ]
    html = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>quantdesk frontier</title></head><body>"
        + "".join(parts)
        + "</body></html>"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
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
