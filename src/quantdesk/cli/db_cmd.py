"""``quantdesk db upgrade | current | history``: migrate and inspect the database at ``database.url``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from quantdesk.cli.context import output_from, settings_from
from quantdesk.config.masking import mask_url
from quantdesk.errors import ConfigError
from quantdesk.persistence import commands

__all__ = ["app"]

app = typer.Typer(
    help="Create and migrate the database (SQLite in the data directory by default, or PostgreSQL).",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="The revision to migrate to.")] = "head",
    json_: JsonFlag = False,
) -> None:
    """Migrate the database to the newest schema (or to REVISION); creates a SQLite file when missing."""
    url = settings_from(ctx).database.url
    out = output_from(json_)
    before = commands.current(url)
    _check_revision(revision, before)
    after = commands.upgrade(url, revision)
    document = {"database": mask_url(url), "from": before, "to": after, "head": commands.head()}
    changed = "already at" if before == after else f"{before or 'empty'} ->"
    out.result(document, text=escape(f"database {mask_url(url)}: {changed} {after or 'empty'}"))


def _check_revision(revision: str, current: str | None) -> None:
    """Refuse a REVISION that is not shipped, or that lies behind the database (upgrade only moves forward)."""
    order = [r.revision for r in commands.history()]  # oldest first
    if revision in ("head", "heads"):
        return
    if revision not in order and revision != "base":
        raise ConfigError(
            f"there is no migration {revision!r}",
            field="REVISION",
            value=revision,
            hint=f"use head (the default) or one of {', '.join(order)} (see `quantdesk db history`)",
        )
    at = order.index(current) if current in order else -1
    wanted = order.index(revision) if revision in order else -1
    if wanted < at:
        raise ConfigError(
            f"{revision} is behind the database, which is at {current}: upgrade only moves forward",
            field="REVISION",
            value=revision,
            hint="run `quantdesk db upgrade` (head); to go back, restore a backup of the database",
        )


@app.command("current")
def current(ctx: typer.Context, json_: JsonFlag = False) -> None:
    """Print the database's revision and whether it is the newest."""
    url = settings_from(ctx).database.url
    out = output_from(json_)
    rev = commands.current(url)
    head = commands.head()
    document = {"database": mask_url(url), "current": rev, "head": head, "up_to_date": rev == head}
    note = "up to date" if rev == head else "run `quantdesk db upgrade`"
    out.result(document, text=escape(f"database {mask_url(url)}: {rev or 'not initialised'} (head {head}; {note})"))


@app.command("history")
def history(ctx: typer.Context, json_: JsonFlag = False) -> None:
    """List the migrations shipped with quantdesk, oldest first, marking the one the database is at."""
    url = settings_from(ctx).database.url
    out = output_from(json_)
    rev = commands.current(url)
    rows = [(r.revision, r.down_revision or "", r.message, r.is_head, r.revision == rev) for r in commands.history()]
    out.table(
        "migrations",
        ["revision", "down_revision", "message", "head", "current"],
        rows,
        json_key="migrations",
        extra={"database": mask_url(url), "current": rev},
    )
