"""Where simulator runs keep their records: a data directory of their own, never the user's.

The demo and the examples trade simulated paper accounts on the in-process gateway. Their bar store, database and
gateway state live in ``<paths.data_dir>/<name>/`` (or a directory the user names), so a user's own bars, orders,
fills and reconciliation never mix with theirs. Bars the IB adapter fetches from the simulator are labelled
:data:`SIMULATED_BAR_SOURCE`, never ``ib``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from quantdesk.config.fields import default_database_url
from quantdesk.errors import ConfigError

if TYPE_CHECKING:
    from quantdesk.config import Settings

__all__ = ["SIMULATED_BAR_SOURCE", "gateway_data_dir", "sandbox_settings"]

SIMULATED_BAR_SOURCE = "gateway-sim"


def gateway_data_dir(data_dir: Path | str) -> Path:
    """``<data_dir>/gateway``: the in-process gateway's paper accounts and the bars and contracts fetched from it."""
    return Path(data_dir).expanduser() / "gateway"


def sandbox_settings(
    settings: Settings, name: str, data_dir: Path | str | None = None, *, flag: str = "--data-dir"
) -> Settings:
    """``settings`` with every file moved to ``data_dir`` (default ``<paths.data_dir>/<name>``): the bar store, the
    SQLite database there (whatever ``database.url`` says) and the gateway's state; paper mode, and ``ib.account``
    cleared so the simulator's own paper account is used. ``flag`` names the option that gave ``data_dir`` in
    errors."""
    own = Path(settings.paths.data_dir).expanduser().resolve()
    root = (Path(data_dir).expanduser() if data_dir is not None else own / name).resolve()
    if root == own:
        raise ConfigError(
            f"{root} is your own data directory; the {name} keeps its simulated records apart from yours",
            field=flag,
            value=str(data_dir),
            hint=f"choose another directory, or omit {flag} to use {own / name}",
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the directory ({exc.strerror or exc})",
            field=flag,
            value=str(root),
            hint="give a directory you can write to",
        ) from exc
    return settings.model_copy(
        update={
            "paths": settings.paths.model_copy(update={"data_dir": root}),
            "database": settings.database.model_copy(update={"url": default_database_url(root)}),
            "ib": settings.ib.model_copy(update={"account": None}),
            "mode": "paper",  # a simulated account is a paper account, whatever the user's config trades
        }
    )
