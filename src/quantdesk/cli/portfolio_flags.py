"""The flags of ``optimize`` and ``rebalance``: the methods' help, flag parsing, and errors told in flags.

The services name their options as Python does (``max_weight``, ``target_volatility=0.15``); a user types
``--max-weight``. ``flag_errors`` rewrites an error's field and hint into the flags of these commands.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from quantdesk.errors import QuantdeskError, ValidationError

__all__ = [
    "METHOD_HELP",
    "flag_errors",
    "lookback_value",
    "method_help",
    "parse_budgets",
    "refuse_frontier_path",
    "with_methods",
]

METHOD_HELP: dict[str, str] = {
    "equal-weight": "the same weight for every symbol",
    "inverse-volatility": "weights inverse to each symbol's volatility",
    "min-variance": "the portfolio of least variance",
    "max-sharpe": "the highest Sharpe ratio (return over volatility)",
    "max-return-target-vol": "the highest return at --target-volatility",
    "min-risk-target-return": "the least risk that reaches --target-return",
    "risk-parity": "every symbol contributes the same risk",
    "risk-budgeting": "risk shared as --budget SYMBOL=SHARE says",
    "hrp": "hierarchical risk parity (clustered symbols)",
    "herc": "hierarchical equal risk contribution",
    "max-diversification": "the highest diversification ratio",
    "min-cvar": "the least conditional value at risk (95 %)",
    "black-litterman": "max Sharpe with your --view 'AAPL == 0.10'",
    "mean-variance-tc": "mean-variance net of transaction costs",
}
"""One line per optimiser, for ``--help`` (the keys are ``portfolio.METHODS``)."""

FLAGS: dict[str, str] = {
    "method": "--method",
    "lookback": "--lookback",
    "max_weight": "--max-weight",
    "min_weight": "--min-weight",
    "cov": "--cov",
    "mu": "--mu",
    "risk_free_rate": "--risk-free-rate",
    "target_volatility": "--target-volatility",
    "target_return": "--target-return",
    "long_only": "--long-short",
    "views": "--view",
    "risk_budget": "--budget",
    "cash_buffer": "--cash-buffer",
    "band": "--band",
    "band_mode": "--band-mode",
    "min_trade_value": "--min-trade",
    "positions_file": "--positions-file",
    "universe": "--universe",
    "points": "--frontier-points",
    "cash": "--cash",
}
"""Option names of the services → the flags a user types."""

_REWRITES = (
    ("views=['AAPL == 0.10']", "--view 'AAPL == 0.10'"),
    ("None for all rows", "'all' for all rows"),
    ("set long_only=False", "pass --long-short"),
    ("pass fallback= to use another method", "try another --method"),
    ("pass fallback= or relax the constraints", "relax the constraints or try another --method"),
    ("or raise risk.max_position_pct", "or raise it: --set risk.max_position_pct=<cap> before the command"),
)
_PYTHONIC = sorted((k for k in FLAGS if "_" in k), key=len, reverse=True)
_NAME = re.compile(r"\b(" + "|".join(_PYTHONIC) + r")\b(\s*=\s*)?|\b(" + "|".join(FLAGS) + r")(=)")
_CONFIG_SET = re.compile(r"\bset ([a-z_]+\.[a-z_]+) = (\S+?)(?=[,;)\s]|$)")


def method_help() -> str:
    """The ``--method`` help (the methods themselves are listed in the command's help, one line each)."""
    return "Optimiser (default max-sharpe): one of the methods listed above."


def with_methods(doc: str | None) -> str:
    """A command's help text followed by every optimiser on a line of its own (``\\b`` keeps the lines)."""
    width = max(len(k) for k in METHOD_HELP)
    lines = "\n".join(f"{k.ljust(width)}  {v}" for k, v in METHOD_HELP.items())
    return f"{(doc or '').strip()}\n\nMethods (--method):\n\n\b\n{lines}"


def _flag_text(text: str) -> str:
    for old, new in _REWRITES:
        text = text.replace(old, new)
    text = _CONFIG_SET.sub(r"pass --set \1=\2", text)
    return _NAME.sub(lambda m: FLAGS[m.group(1) or m.group(3)] + (" " if m.group(2) or m.group(4) else ""), text)


@contextlib.contextmanager
def flag_errors() -> Iterator[None]:
    """Re-raise a service's error with its field and hint in the flags of ``optimize`` / ``rebalance``."""
    try:
        yield
    except QuantdeskError as exc:
        if exc.field in FLAGS:
            exc.field = FLAGS[exc.field]
        elif exc.field and exc.field.startswith("positions_file"):
            exc.field = "--positions-file" + exc.field.removeprefix("positions_file")
        if exc.hint:
            exc.hint = _flag_text(exc.hint)
        exc.message = _flag_text(exc.message)
        exc.args = (exc.message,)
        raise


def lookback_value(text: str) -> str | int | None:
    """``--lookback``: 'all' (every row), a bare number of rows, or a window such as 5y, 6m, 8w, 252d."""
    cleaned = text.strip().lower()
    if cleaned in ("all", "none", "max", ""):
        return None
    return int(cleaned) if cleaned.isdigit() else text


def parse_budgets(items: list[str] | None) -> dict[str, float] | None:
    """``--budget AAPL=0.5`` (repeatable): each symbol's share of the risk."""
    if not items:
        return None
    out: dict[str, float] = {}
    for item in items:
        sym, sep, share = item.partition("=")
        try:
            value = float(share)
        except ValueError:
            value = float("nan")
        if not sep or not sym.strip() or not value > 0:
            raise ValidationError(
                f"cannot read the budget {item!r}",
                field="--budget",
                value=item,
                hint="write SYMBOL=SHARE with a positive share, e.g. --budget AAPL=0.5 --budget MSFT=0.5",
            )
        out[sym.strip().upper()] = value
    return out


def refuse_frontier_path(path: Path | None) -> None:
    """``--frontier`` writes an HTML chart: any other extension is refused rather than written as HTML."""
    if path is not None and path.suffix.lower() not in (".html", ".htm"):
        raise ValidationError(
            f"the frontier chart is an HTML page, not {path.suffix or 'a file without extension'}",
            field="--frontier",
            value=str(path),
            hint=f"name the file {path.with_suffix('.html').name}",
        )
