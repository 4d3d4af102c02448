"""Estimators: covariance and expected returns against independent computations, the lookback window, returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import OAS as SKLEARN_OAS
from sklearn.covariance import LedoitWolf as SklearnLedoitWolf

from quantdesk.errors import DataError, ValidationError
from quantdesk.portfolio.estimators import (
    COVARIANCE_ESTIMATORS,
    MU_ESTIMATORS,
    apply_lookback,
    estimate_covariance,
    estimate_moments,
    estimate_mu,
    parse_lookback,
    prepare_returns,
    prices_to_returns,
)


def test_sample_covariance_and_mean_are_pandas_times_252(returns_5y: pd.DataFrame) -> None:
    cov = estimate_covariance(returns_5y, "sample")
    np.testing.assert_allclose(cov.to_numpy(), returns_5y.cov().to_numpy() * 252, rtol=1e-12)
    mu = estimate_mu(returns_5y, "mean")
    np.testing.assert_allclose(mu.to_numpy(), returns_5y.mean().to_numpy() * 252, rtol=1e-12)
    assert list(cov.index) == list(returns_5y.columns)


def test_ledoit_wolf_matches_sklearn(returns_5y: pd.DataFrame) -> None:
    ours = estimate_covariance(returns_5y, "ledoit-wolf", annualize=False).to_numpy()
    reference = SklearnLedoitWolf().fit(returns_5y.to_numpy()).covariance_
    np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-14)
    sample = returns_5y.cov(ddof=0).to_numpy()
    assert not np.allclose(ours, sample)  # shrinkage did something


def test_oas_matches_sklearn(returns_5y: pd.DataFrame) -> None:
    ours = estimate_covariance(returns_5y, "oas", annualize=False).to_numpy()
    np.testing.assert_allclose(ours, SKLEARN_OAS().fit(returns_5y.to_numpy()).covariance_, rtol=1e-10, atol=1e-14)


def test_ew_covariance_hand_checked_on_a_tiny_matrix() -> None:
    returns = pd.DataFrame({"A": [0.01, -0.02, 0.03], "B": [0.00, 0.01, -0.01]})
    half_life = 1.0  # λ = 1/2: weights 1/4, 1/2, 1 for the oldest to the newest row, normalised by 7/4
    ours = estimate_covariance(returns, "ew", half_life=half_life, annualize=False).to_numpy()
    w = np.array([0.25, 0.5, 1.0]) / 1.75
    r = returns.to_numpy()
    expected = np.array([[(w * r[:, i] * r[:, j]).sum() for j in range(2)] for i in range(2)])
    # by hand: var A = (0.25e-4 + 0.5·4e-4 + 9e-4)/1.75
    assert expected[0, 0] == pytest.approx((0.25 * 1e-4 + 0.5 * 4e-4 + 9e-4) / 1.75)
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_ew_mean_weights_recent_rows_more() -> None:
    returns = pd.DataFrame({"A": [0.0] * 50 + [0.01] * 10})
    assert (
        estimate_mu(returns, "ew", half_life=5, annualize=False)["A"]
        > estimate_mu(returns, "mean", annualize=False)["A"]
    )


def test_equilibrium_mu_is_covariance_times_equal_weights(returns_5y: pd.DataFrame) -> None:
    mu = estimate_mu(returns_5y, "equilibrium", cov="sample", annualize=False).to_numpy()
    n = returns_5y.shape[1]
    np.testing.assert_allclose(mu, returns_5y.cov().to_numpy() @ np.full(n, 1 / n), rtol=1e-10)


def test_denoised_covariance_keeps_the_variances_and_is_positive_definite(returns_5y: pd.DataFrame) -> None:
    cov = estimate_covariance(returns_5y, "denoised").to_numpy()
    sample = returns_5y.cov().to_numpy() * 252
    np.testing.assert_allclose(np.diag(cov), np.diag(sample), rtol=1e-8)
    assert np.linalg.eigvalsh(cov).min() > 0
    assert not np.allclose(cov, sample)


@pytest.mark.parametrize("cov", COVARIANCE_ESTIMATORS)
@pytest.mark.parametrize("mu", MU_ESTIMATORS)
def test_every_estimator_pair_gives_annualised_moments(returns_5y: pd.DataFrame, cov: str, mu: str) -> None:
    moments = estimate_moments(returns_5y.iloc[-300:], cov=cov, mu=mu)
    assert moments.cov.shape == (20, 20)
    assert np.isfinite(moments.mu).all()
    assert 0.05 < moments.volatility.median() < 0.8  # annualised, not daily
    assert np.linalg.eigvalsh(moments.cov.to_numpy()).min() > 0


def test_unknown_estimator_names_the_field() -> None:
    returns = pd.DataFrame({"A": [0.01, 0.02, 0.0], "B": [0.0, 0.01, 0.02]})
    with pytest.raises(ValidationError) as err:
        estimate_covariance(returns, "shrunk")
    assert err.value.field == "cov"
    assert "ledoit-wolf" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("lookback", "parsed"),
    [
        (None, None),
        ("all", None),
        ("5y", ("y", 5)),
        ("6m", ("m", 6)),
        ("8w", ("w", 8)),
        ("252d", ("rows", 252)),
        (252, ("rows", 252)),
    ],
)
def test_parse_lookback(lookback: str | int | None, parsed: tuple[str, int] | None) -> None:
    assert parse_lookback(lookback) == parsed


@pytest.mark.parametrize("bad", ["5 years", "0d", "y5", 1, True, 2.5])
def test_bad_lookback_names_the_field(bad: object) -> None:
    with pytest.raises(ValidationError) as err:
        parse_lookback(bad)  # type: ignore[arg-type]
    assert err.value.field == "lookback"


def test_calendar_and_row_lookbacks(prices: pd.DataFrame) -> None:
    last = prices.index[-1]
    five = apply_lookback(prices, "5y")
    assert five.index[0] > last - pd.DateOffset(years=5)
    assert five.index[0] - pd.Timedelta(days=7) < last - pd.DateOffset(years=5)
    assert len(apply_lookback(prices, "252d")) == 252
    assert len(apply_lookback(prices, 100)) == 100
    assert len(apply_lookback(prices, None)) == len(prices)
    with pytest.raises(ValidationError, match="timestamp"):
        apply_lookback(prices.reset_index(drop=True), "1y")


def test_prices_to_returns_and_prepare(prices: pd.DataFrame) -> None:
    returns = prices_to_returns(prices.iloc[:3])
    assert len(returns) == 2
    assert returns.iloc[0, 0] == pytest.approx(prices.iloc[1, 0] / prices.iloc[0, 0] - 1)
    window, notes = prepare_returns(prices, returns=False, lookback="5y")
    assert len(window) == 1258
    assert notes == []


def test_prepare_returns_drops_missing_rows_and_refuses_bad_data() -> None:
    idx = pd.date_range("2024-01-01", periods=6, tz="UTC")
    prices = pd.DataFrame({"A": [10.0, 11, 12, np.nan, 12, 13], "B": [5.0, 5, 6, 6, 7, 7]}, index=idx)
    rets, notes = prepare_returns(prices, returns=False, lookback=None)
    assert len(rets) == 3
    assert "dropped 2 of 5 rows" in notes[0]
    with pytest.raises(DataError, match="non-positive"):
        prepare_returns(prices.assign(A=-1.0), returns=False, lookback=None)
    with pytest.raises(DataError) as err:
        prepare_returns(prices.assign(B=np.nan), returns=False, lookback=None)
    assert err.value.value == ["B"]
    with pytest.raises(ValidationError, match="DataFrame"):
        prepare_returns([1, 2, 3], returns=True, lookback=None)  # type: ignore[arg-type]
