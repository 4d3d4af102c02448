"""``quantdesk config show | validate | init``: look at, check and create the configuration."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from quantdesk.cli.context import output_from, settings_from, state_from
from quantdesk.cli.output import console
from quantdesk.config import Settings, example_for
from quantdesk.errors import ConfigError

__all__ = ["app"]

app = typer.Typer(
    help="Show, validate and create the configuration (file + environment + QUANTDESK__* variables + --set).",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]


def _origin(settings: Settings) -> tuple[str, str]:
    file = str(settings.source_file) if settings.source_file is not None else "no config file (defaults)"
    return file, settings.env_name or "none"


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "[]"
    if isinstance(value, Mapping):
        return "{}"
    return str(value)


@app.command("show")
def show(ctx: typer.Context, json_: JsonFlag = False) -> None:
    """Print the effective configuration and where each value came from; secrets are always masked."""
    settings = settings_from(ctx)
    out = output_from(json_)
    if out.as_json:
        out.json(settings.masked_dict())
        return
    file, env = _origin(settings)
    sources = settings.sources
    table = Table(title=escape(f"quantdesk config: {file} (env {env})"))
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("source", overflow="fold", style="dim")
    for key, value in _flatten(settings.masked_dict()):
        table.add_row(escape(key), escape(_text(value)), escape(sources.get(key, "default")))
    console.print(table)
    for warning in settings.warnings():
        out.message(f"[yellow]warning:[/yellow] {escape(warning)}")


@app.command("validate")
def validate(
    ctx: typer.Context,
    json_: JsonFlag = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit with status 1 when there are warnings.")] = False,
) -> None:
    """Load and check the configuration: one error line with the fix, or "config OK" and any warnings."""
    out = output_from(json_)
    try:
        settings = settings_from(ctx)
    except ConfigError as exc:
        if json_:
            out.json({"ok": False, **exc.to_dict()})
            raise typer.Exit(2) from None
        raise
    file, env = _origin(settings)
    warnings = settings.warnings()
    document = {
        "ok": True,
        "config_file": None if settings.source_file is None else str(settings.source_file),
        "env": settings.env_name,
        "mode": settings.mode,
        "live_confirmed": settings.live_confirmed,
        "warnings": warnings,
    }
    out.result(document, text=escape(f"config OK: {file} (env {env})"))
    for warning in warnings:
        out.message(f"[yellow]warning:[/yellow] {escape(warning)}")
    if strict and warnings:
        raise typer.Exit(1)


@app.command("init")
def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(help="Where to write it (.toml, .yaml or .yml). Default: --config, else ./quantdesk.toml."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example config file (every key with its default, plus paper and live environments)."""
    target = path or state_from(ctx).config_path or Path("quantdesk.toml")
    text = example_for(target)
    if target.is_dir():
        raise ConfigError(
            f"{target} is a directory",
            field="PATH",
            value=str(target),
            hint=f"give a file name, e.g. {target}/quantdesk.toml",
        )
    if target.exists() and not force:
        raise ConfigError(
            f"{target} already exists; not overwriting it",
            field="PATH",
            value=str(target),
            hint="pass --force to overwrite it, or give another PATH",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    output_from(False).message(
        escape(f"wrote {target}: edit it, then check it with `quantdesk --config {target} config validate`")
    )
