"""Shared data for the portfolio tests: the bundled S&P 500 sample, loaded once per module."""

from __future__ import annotations

import pandas as pd
import pytest

from quantdesk.data import load_sample_prices


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    """Wide daily adjusted closes of the 20-stock sample, 1990-2022."""
    return load_sample_prices()


@pytest.fixture(scope="module")
def returns_5y(prices: pd.DataFrame) -> pd.DataFrame:
    """Daily simple returns of the last 5 years of the sample (1258 rows, 20 assets)."""
    window = prices.loc[prices.index > prices.index[-1] - pd.DateOffset(years=5)]
    return window.pct_change().dropna()
