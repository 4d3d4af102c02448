"""Start-up time a person feels: each command's wall time before and after, and optimize vs a plain skfolio script.

Every command runs as a fresh process (``python -m quantdesk.cli.main ...``), ``--runs`` times; the table shows the
median. "before" is the source of ``--before REF`` exported with ``git archive`` into a temporary directory and put
first on ``PYTHONPATH`` (same interpreter and packages); "after" is this tree. Both use one temporary data
directory and database (migrated, with two sample series loaded), so read commands find a current schema. Both
trees are byte-compiled, as ``make sync`` leaves an install (``UV_COMPILE_BYTECODE``), so the figures are what a
user feels from the second command on, also where ``PYTHONDONTWRITEBYTECODE`` is set.

The last rows time ``quantdesk optimize`` (max Sharpe, Ledoit-Wolf, 5 years, 10 % cap, the bundled sample) against
a script that does the same fit with skfolio alone, and print their ratio and how far the weights differ.

    python benchmarks/bench_startup.py --before d7ce1e7 --runs 5
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BEFORE = "d7ce1e7"  # the tree issue #14 was measured on
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("--version",),
    ("config", "show"),
    ("data", "list"),
    ("data", "show", "AAPL"),
    ("orders",),
    ("fills",),
    ("history",),
    ("kill-switch", "status"),
)
OPTIMIZE = ("optimize", "--json")

SKFOLIO_SCRIPT = """
import json
import pandas as pd
from skfolio.datasets import load_sp500_dataset
from skfolio.moments import LedoitWolf
from skfolio.optimization import MeanRisk, ObjectiveFunction
from skfolio.preprocessing import prices_to_returns
from skfolio.prior import EmpiricalPrior

prices = load_sp500_dataset()
prices = prices.loc[prices.index > prices.index[-1] - pd.DateOffset(years=5)]
returns = prices_to_returns(prices)
model = MeanRisk(
    objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
    prior_estimator=EmpiricalPrior(covariance_estimator=LedoitWolf()),
    min_weights=0.0,
    max_weights=0.10,
)
model.fit(returns)
print(json.dumps(dict(zip(returns.columns, map(float, model.weights_)))))
"""


def _env(data: Path, pythonpath: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK")}
    env.update(HOME=str(data), QUANTDESK__PATHS__DATA_DIR=str(data / "data"), COLUMNS="80")
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    else:
        env.pop("PYTHONPATH", None)
    return env


Done = subprocess.CompletedProcess[str]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, Done]:
    """Wall and CPU seconds of one process (CPU time is the fairer figure on a shared, loaded machine)."""
    cpu, started = _cpu(), time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    return time.perf_counter() - started, _cpu() - cpu, done


def _median(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> tuple[float, float, Done]:
    walls, cpus, last = [], [], None
    for _ in range(runs):
        wall, cpu, last = _run(argv, env, cwd)
        walls.append(wall)
        cpus.append(cpu)
    assert last is not None
    return statistics.median(walls), statistics.median(cpus), last


def export_tree(ref: str, into: Path) -> Path:
    """The ``src/`` of ``ref`` written under ``into`` (``git archive``: no worktree is registered)."""
    archive = subprocess.run(["git", "archive", ref, "src"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    # Byte-compiled like this tree after `make sync`: otherwise "before" pays for compiling itself on every run.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(into / "src")], check=True, capture_output=True)
    return into / "src"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "quantdesk.cli.main", *args]


def _prepare(data: Path) -> None:
    env = _env(data, None)
    for args in (("db", "upgrade"), ("data", "sample", "--symbols", "AAPL,MSFT")):
        *_, done = _run(_cli(*args), env, data)
        if done.returncode != 0:
            raise RuntimeError(f"quantdesk {' '.join(args)} failed: {done.stderr.strip()}")


def _weights(done: subprocess.CompletedProcess[str], key: str | None) -> dict[str, float]:
    if done.returncode != 0:
        return {}
    doc = json.loads(done.stdout)
    weights: dict[str, float] = doc[key] if key else doc
    return weights


def main(argv: list[str] | None = None) -> None:
    """Print the start-up table (before, after, ratio) and optimize vs the skfolio script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="git ref to compare with (default %(default)s)")
    parser.add_argument("--runs", "-n", type=int, default=3, help="runs per command; the median is shown")
    args = parser.parse_args([] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="qd-bench-startup-") as tmp:
        base = Path(tmp)
        data = base / "home"
        data.mkdir()
        before_src = export_tree(args.before, base / "before")
        _prepare(data)
        trees = {"before": _env(data, before_src), "after": _env(data, None)}
        print(f"median of {args.runs} runs, seconds (wall, and CPU); before = {args.before}, after = this tree")
        print(f"{'command':<30}{'before':>8}{'after':>8}{'ratio':>7}{'cpu before':>12}{'cpu after':>11}  exit")
        optimized: dict[str, tuple[float, float, Done]] = {}
        for command in (*COMMANDS, OPTIMIZE):
            wall, cpu, codes = {}, {}, []
            for name, env in trees.items():
                wall[name], cpu[name], done = _median(_cli(*command), env, data, args.runs)
                codes.append(str(done.returncode))
                if command == OPTIMIZE:
                    optimized[name] = (wall[name], cpu[name], done)
            label = "quantdesk " + " ".join(command)
            ratio = wall["after"] / wall["before"]
            print(
                f"{label:<30}{wall['before']:>8.2f}{wall['after']:>8.2f}{ratio:>7.2f}"
                f"{cpu['before']:>12.2f}{cpu['after']:>11.2f}  {'/'.join(codes)}"
            )
        script = base / "skfolio_fit.py"
        script.write_text(SKFOLIO_SCRIPT, encoding="utf-8")
        plain, plain_cpu, plain_done = _median([sys.executable, str(script)], trees["after"], data, args.runs)
        print(f"\nquantdesk optimize vs a plain skfolio script doing the same fit (median of {args.runs}):")
        print(f"{'skfolio script':<30}{plain:>8.2f} s (cpu {plain_cpu:.2f} s)")
        for name, (seconds, cpu_s, done) in optimized.items():
            ours, theirs = _weights(done, "weights"), _weights(plain_done, None)
            gap = max((abs(ours.get(s, 0.0) - w) for s, w in theirs.items()), default=float("nan"))
            print(
                f"{'quantdesk optimize ' + name:<30}{seconds:>8.2f} s (cpu {cpu_s:.2f} s): ratio to the script"
                f" {seconds / plain:.2f} (cpu {cpu_s / plain_cpu:.2f}), max |Δw| {gap:.4f}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
