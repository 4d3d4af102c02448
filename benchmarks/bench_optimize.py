"""Time per optimisation, first solve and re-solve, for minimum variance and maximum Sharpe at 20-1,000 assets.

The use case is a walk-forward backtest: the same problem re-solved on a rolling window of returns. Every library
gets the same window of daily returns (1,260 rows, five years) and returns long-only, fully invested weights in
[0, 1] from the sample mean and covariance (× 252, r_f = 0), so estimation is inside every timing:

* quantdesk compiled: ``CompiledMeanVariance`` built once, ``solve(mu, cov)`` per window (numpy moments);
* quantdesk optimize(): the whole public pipeline (skfolio estimators, checks, statistics) on the same window;
* skfolio ``MeanRisk``, PyPortfolioOpt ``EfficientFrontier``, Riskfolio-Lib ``Portfolio.optimization``.

"first" is the first call on a new problem (after a tiny warm-up of each library, so imports are not counted);
"re-solve" is the median over the next windows, each shifted by 21 rows (a monthly rebalance). Every call runs
with the garbage collector off, after a collection, as ``timeit`` does, and each library runs in its own
interpreter with BLAS on one thread, so no library's thread pools, caches or garbage slow another's timings.
The returns are seeded synthetic data with a factor structure: a market factor and four style factors, betas
around one, and heterogeneous idiosyncratic volatility. "max |Δw|" compares the last weights with quantdesk's.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

SIZES = (20, 100, 500, 1000)
PROBLEMS = ("min-variance", "max-sharpe")
WINDOW = 1260
STEP = 21
TARGET_SPEEDUP = 5.0

Solver = Callable[[pd.DataFrame], np.ndarray]


def synthetic_returns(n_assets: int, n_rows: int, seed: int = 7) -> pd.DataFrame:
    """Daily returns with a factor structure: market + 4 styles, betas ~1, lognormal idiosyncratic volatility."""
    rng = np.random.default_rng(seed + n_assets)
    factor_vol = np.array([0.010, 0.005, 0.004, 0.004, 0.003])
    factors = rng.standard_normal((n_rows, 5)) * factor_vol
    betas = np.column_stack([rng.normal(1.0, 0.3, n_assets), rng.normal(0.0, 0.5, (n_assets, 4))])
    idio_vol = np.exp(rng.normal(np.log(0.015), 0.4, n_assets))
    drift = rng.normal(0.0004, 0.0004, n_assets)
    values = drift + factors @ betas.T + rng.standard_normal((n_rows, n_assets)) * idio_vol
    return pd.DataFrame(values, columns=[f"S{i:04d}" for i in range(n_assets)])


def _moments(window: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    values = window.to_numpy()
    return values.mean(axis=0) * 252, np.cov(values, rowvar=False) * 252


def quantdesk_compiled(n_assets: int, problem: str) -> Solver:
    from quantdesk.portfolio import CompiledMeanVariance

    compiled = CompiledMeanVariance(n_assets, problem)

    def solve(window: pd.DataFrame) -> np.ndarray:
        return compiled.solve(*_moments(window))

    return solve


def quantdesk_optimize(n_assets: int, problem: str) -> Solver:
    from quantdesk.portfolio import OptimizationSpec, optimize

    spec = OptimizationSpec(method=problem, lookback=None, cov="sample", mu="mean", max_weight=1.0)

    def solve(window: pd.DataFrame) -> np.ndarray:
        return optimize(window, spec, returns=True).weights.to_numpy()

    return solve


def skfolio_solver(n_assets: int, problem: str) -> Solver:
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    def solve(window: pd.DataFrame) -> np.ndarray:
        if problem == "min-variance":
            model = MeanRisk(risk_measure=RiskMeasure.VARIANCE)
        else:
            model = MeanRisk(
                objective_function=ObjectiveFunction.MAXIMIZE_RATIO, risk_measure=RiskMeasure.STANDARD_DEVIATION
            )
        return np.asarray(model.fit(window).weights_)

    return solve


def pypfopt_solver(n_assets: int, problem: str) -> Solver:
    from pypfopt import EfficientFrontier

    def solve(window: pd.DataFrame) -> np.ndarray:
        frontier = EfficientFrontier(window.mean() * 252, window.cov() * 252)
        weights = frontier.min_volatility() if problem == "min-variance" else frontier.max_sharpe(risk_free_rate=0.0)
        return np.array([weights[c] for c in window.columns])

    return solve


def riskfolio_solver(n_assets: int, problem: str) -> Solver:
    import riskfolio as rp  # type: ignore[import-not-found]

    def solve(window: pd.DataFrame) -> np.ndarray:
        portfolio = rp.Portfolio(returns=window)
        portfolio.assets_stats(method_mu="hist", method_cov="hist")
        obj = "MinRisk" if problem == "min-variance" else "Sharpe"
        weights = portfolio.optimization(model="Classic", rm="MV", obj=obj, rf=0, l=0, hist=True)
        if weights is None:
            raise RuntimeError("no solution")
        return weights["weights"].reindex(window.columns).to_numpy(dtype=float)

    return solve


@dataclass
class Row:
    n_assets: int
    problem: str
    library: str
    first: float | None = None
    resolve: float | None = None
    gap: float | None = None
    note: str = ""


def _resolves(n_assets: int) -> int:
    return 9 if n_assets <= 100 else 3 if n_assets <= 500 else 2


def _timed(solve: Solver, window: pd.DataFrame) -> tuple[float, np.ndarray]:
    """One call, timed with the garbage collector off (as timeit does): a collection triggered by another
    library's leftovers would otherwise land in whichever call happens to be running."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        weights = solve(window)
        return time.perf_counter() - started, weights
    finally:
        gc.enable()


def _time(make: Callable[[int, str], Solver], n_assets: int, problem: str) -> dict[str, Any]:
    """First solve and median re-solve of one library on one problem; the last weights for the comparison."""
    out: dict[str, Any] = {"n_assets": n_assets, "problem": problem}
    data = synthetic_returns(n_assets, WINDOW + STEP * (_resolves(n_assets) + 1))
    try:
        solve = make(n_assets, problem)
        windows = [data.iloc[i * STEP : i * STEP + WINDOW] for i in range(_resolves(n_assets) + 1)]
        out["first"], weights = _timed(solve, windows[0])
        times = []
        for window in windows[1:]:
            seconds, weights = _timed(solve, window)
            times.append(seconds)
        out["resolve"] = statistics.median(times)
        out["weights"] = [float(x) for x in weights]
    except Exception as error:  # a library failing is a result, not a crash
        out["note"] = f"failed: {type(error).__name__}: {str(error)[:60]}"
    return out


LIBRARIES: dict[str, Callable[[int, str], Solver]] = {
    "quantdesk compiled": quantdesk_compiled,
    "quantdesk optimize()": quantdesk_optimize,
    "skfolio": skfolio_solver,
    "PyPortfolioOpt": pypfopt_solver,
    "Riskfolio-Lib": riskfolio_solver,
}


def run_library(name: str) -> list[dict[str, Any]]:
    """Every size and problem for one library, in this process (after a tiny warm-up so imports don't count)."""
    warnings.filterwarnings("ignore")
    make = LIBRARIES[name]
    tiny = synthetic_returns(5, 300, seed=1)
    for problem in PROBLEMS:
        with contextlib.suppress(Exception):
            make(5, problem)(tiny)
    return [_time(make, n_assets, problem) for n_assets in SIZES for problem in PROBLEMS]


_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""BLAS on one thread for every library: on a shared machine, OpenBLAS threads that wait for a busy core turn a
0.6 ms covariance of 100 assets into 30 ms, which would measure the neighbours, not the libraries."""


def _in_subprocess(name: str) -> list[dict[str, Any]]:
    """Run one library in a fresh interpreter: no library's thread pools, caches or garbage reach another's."""
    done = subprocess.run(
        [sys.executable, __file__, "--library", name],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **_ONE_THREAD, "PYTHONWARNINGS": "ignore"},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return [{"n_assets": n, "problem": p, "note": f"failed: {tail[0][:70]}"} for n in SIZES for p in PROBLEMS]
    return [json.loads(line) for line in lines]


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:,.1f}"


def main() -> None:
    """Print the table, then the speed-up of quantdesk's re-solve over the fastest library at 100 assets."""
    results: dict[str, list[dict[str, Any]]] = {}
    for name in LIBRARIES:
        if name == "Riskfolio-Lib" and importlib.util.find_spec("riskfolio") is None:
            results[name] = [
                {"n_assets": n, "problem": p, "note": "not installed (make bench installs it)"}
                for n in SIZES
                for p in PROBLEMS
            ]
            continue
        results[name] = _in_subprocess(name)
    reference = {(r["n_assets"], r["problem"]): r.get("weights") for r in results["quantdesk compiled"]}
    rows: list[Row] = []
    for n_assets in SIZES:
        for problem in PROBLEMS:
            for name, cells in results.items():
                cell = next(c for c in cells if c["n_assets"] == n_assets and c["problem"] == problem)
                row = Row(n_assets, problem, name, cell.get("first"), cell.get("resolve"), note=cell.get("note", ""))
                ref, mine = reference.get((n_assets, problem)), cell.get("weights")
                if ref is not None and mine is not None:
                    row.gap = float(np.abs(np.array(mine) - np.array(ref)).max())
                rows.append(row)
    ours = {(r.n_assets, r.problem): r.resolve for r in rows if r.library == "quantdesk compiled"}
    header = (
        f"{'assets':>6}  {'problem':<13}{'library':<22}{'first ms':>11}{'re-solve ms':>13}{'ours ×':>8}"
        f"{'max |Δw|':>10}  note"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        mine = ours.get((r.n_assets, r.problem))
        speedup = (
            ""
            if r.resolve is None or mine is None or r.library.startswith("quantdesk c")
            else f"{r.resolve / mine:,.0f}"
        )
        gap = "" if r.gap is None or r.library.startswith("quantdesk c") else f"{r.gap:.1e}"
        print(
            f"{r.n_assets:>6}  {r.problem:<13}{r.library:<22}{_ms(r.first):>11}{_ms(r.resolve):>13}{speedup:>8}"
            f"{gap:>10}  {r.note}"
        )
    print()
    for problem in PROBLEMS:
        libs = [
            r
            for r in rows
            if r.n_assets == 100
            and r.problem == problem
            and r.resolve is not None
            and not r.library.startswith("quantdesk")
        ]
        mine = ours.get((100, problem))
        if not libs or mine is None:
            continue
        fastest = min(libs, key=lambda r: r.resolve or 0.0)
        ratio = (fastest.resolve or 0.0) / mine
        verdict = "meets" if ratio >= TARGET_SPEEDUP else "MISSES"
        print(
            f"100 assets, {problem}: re-solve {mine * 1e3:.2f} ms vs fastest library {fastest.library} "
            f"{(fastest.resolve or 0.0) * 1e3:.1f} ms: {ratio:.0f}× ({verdict} the {TARGET_SPEEDUP:.0f}× target)"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--library":
        for cell in run_library(sys.argv[2]):
            print(json.dumps(cell))
    else:
        main()
