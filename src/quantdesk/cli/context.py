"""What every command needs from the global options: the loaded settings and an output printer."""

from __future__ import annotations

import typer

from quantdesk.cli.output import CliState, Output
from quantdesk.config import Settings, load_settings

__all__ = ["output_from", "settings_from", "state_from"]

_SETTINGS_KEY = "quantdesk.settings"


def state_from(ctx: typer.Context) -> CliState:
    """The global options stored by the ``quantdesk`` callback (defaults when a command runs without it)."""
    obj = ctx.find_object(CliState)
    return obj if obj is not None else CliState()


def settings_from(ctx: typer.Context) -> Settings:
    """Load the settings for this invocation from ``--config``, ``--env`` and ``--set`` (once; cached after)."""
    meta = ctx.meta  # shared by every context of one invocation
    cached = meta.get(_SETTINGS_KEY)
    if isinstance(cached, Settings):
        return cached
    state = state_from(ctx)
    settings = load_settings(state.config_path, state.env, state.overrides)
    meta[_SETTINGS_KEY] = settings
    return settings


def output_from(json_flag: bool) -> Output:
    """The printer for a command's ``--json`` flag: rich text for people, one JSON document for scripts."""
    return Output(as_json=json_flag)
