"""The efficient frontier and risk-contribution reports: tables, then charts written to HTML."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantdesk.errors import ValidationError
from quantdesk.portfolio import EfficientFrontier, OptimizationSpec, efficient_frontier, optimize
from quantdesk.portfolio import risk_contribution_table as rc_table
from quantdesk.portfolio.charts import write_frontier_html, write_image


@pytest.fixture(scope="module")
def frontier(returns_5y: pd.DataFrame) -> EfficientFrontier:
    spec = OptimizationSpec(method="min-variance", lookback=None, cov="sample", max_weight=0.2)
    return efficient_frontier(returns_5y, spec, points=15, returns=True)


def test_frontier_runs_from_min_variance_to_max_return(returns_5y: pd.DataFrame, frontier: EfficientFrontier) -> None:
    pts = frontier.points
    assert len(pts) == 15
    assert list(pts.columns) == ["expected_return", "volatility", "sharpe"]
    assert pts["expected_return"].is_monotonic_increasing
    assert pts["volatility"].is_monotonic_increasing
    min_var = optimize(
        returns_5y, OptimizationSpec(method="min-variance", lookback=None, cov="sample", max_weight=0.2), returns=True
    )
    assert pts["volatility"].iloc[0] == pytest.approx(min_var.volatility, abs=1e-9)
    mu = frontier.moments.mu.sort_values(ascending=False)
    top = 5 * 0.2 * mu.iloc[:5].mean()  # max return with a 20 % cap: the five best assets at 20 % each
    assert pts["expected_return"].iloc[-1] == pytest.approx(top, rel=1e-5)
    weights = frontier.weights.to_numpy()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-8)
    assert weights.max() <= 0.2 + 1e-8


def test_max_sharpe_point_is_close_to_the_max_sharpe_portfolio(
    returns_5y: pd.DataFrame, frontier: EfficientFrontier
) -> None:
    best = optimize(
        returns_5y, OptimizationSpec(method="max-sharpe", lookback=None, cov="sample", max_weight=0.2), returns=True
    )
    on_frontier = frontier.points["sharpe"].iloc[frontier.max_sharpe]
    assert on_frontier <= best.sharpe + 1e-9
    assert on_frontier > best.sharpe - 0.02
    assert frontier.table().shape == (15, 23)


def test_risk_contribution_table_adds_up(returns_5y: pd.DataFrame) -> None:
    result = optimize(returns_5y, OptimizationSpec(method="hrp", lookback=None), returns=True)
    table = rc_table(result)
    assert table["risk_contribution"].sum() == pytest.approx(result.volatility)
    assert table["risk_share"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(table["risk_share"].sort_index(), result.risk_contributions.sort_index())
    assert table["risk_contribution"].is_monotonic_decreasing


def test_frontier_html_is_written(tmp_path: Path, returns_5y: pd.DataFrame, frontier: EfficientFrontier) -> None:
    result = optimize(returns_5y, OptimizationSpec(method="max-sharpe", lookback=None, max_weight=0.2), returns=True)
    path = write_frontier_html(tmp_path / "out" / "frontier.html", frontier, result=result, plotlyjs="cdn")
    html = path.read_text()
    assert "Efficient frontier" in html
    assert "max Sharpe" in html
    assert "risk contributions" in html
    assert "LLY" in html
    assert frontier.write_html(tmp_path / "f.html", plotlyjs="inline").stat().st_size > 1_000_000  # one file


def _plotly_loads(html: str) -> int:
    """How many times a page loads plotly.js: script tags naming it, plus embedded copies of the bundle."""
    return len(re.findall(r"<script[^>]*src=\"[^\"]*plotly[^\"]*\.js\"", html)) + html.count("plotly.js v")


def test_a_frontier_page_loads_plotly_once_from_a_shared_file(
    tmp_path: Path, returns_5y: pd.DataFrame, frontier: EfficientFrontier
) -> None:
    result = optimize(returns_5y, OptimizationSpec(method="max-sharpe", lookback=None, max_weight=0.2), returns=True)
    first = frontier.write_html(tmp_path / "a.html", result=result)
    second = frontier.write_html(tmp_path / "b.html", result=result)
    bundles = list(tmp_path.glob("plotly-*.min.js"))
    assert len(bundles) == 1  # written once, shared by every page in the directory
    assert bundles[0].stat().st_size > 1_000_000
    for page in (first, second):
        html = page.read_text()
        assert _plotly_loads(html) == 1
        assert f'src="{bundles[0].name}"' in html
        assert page.stat().st_size < 200_000  # the figures only, not plotly.js
    cdn = frontier.write_html(tmp_path / "cdn" / "c.html", result=result, plotlyjs="cdn").read_text()
    assert _plotly_loads(cdn) == 1
    assert "https://cdn.plot.ly/" in cdn
    assert not list((tmp_path / "cdn").glob("*.js"))
    inline = frontier.write_html(tmp_path / "i" / "i.html", result=result, plotlyjs="inline").read_text()
    assert _plotly_loads(inline) == 1


def test_an_unknown_plotly_source_names_the_choices(tmp_path: Path, frontier: EfficientFrontier) -> None:
    with pytest.raises(ValidationError, match=r"unknown plotly\.js source") as info:
        frontier.write_html(tmp_path / "x.html", plotlyjs="nowhere")
    assert "file, cdn, inline" in (info.value.hint or "")


def test_frontier_png_is_a_real_image(tmp_path: Path, returns_5y: pd.DataFrame, frontier: EfficientFrontier) -> None:
    result = optimize(returns_5y, OptimizationSpec(method="max-sharpe", lookback=None, max_weight=0.2), returns=True)
    path = write_frontier_html(tmp_path / "out" / "frontier.png", frontier, result=result)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1080, 1320)  # 9 x 11 inches at 120 dpi: frontier and risk bars
    assert len(data) > 30_000  # drawn, not blank


def test_plotly_static_export_needs_kaleido(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("kaleido") is not None:
        pytest.skip("kaleido is installed")
    with pytest.raises(ValidationError, match="kaleido") as err:
        write_image(tmp_path / "x.png", object())
    assert ".html" in (err.value.hint or "")


def test_points_are_validated(returns_5y: pd.DataFrame) -> None:
    with pytest.raises(ValidationError) as err:
        efficient_frontier(returns_5y, points=1, returns=True)
    assert err.value.field == "points"
