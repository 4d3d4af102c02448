"""Entry point of the ``quantdesk`` command: global options, sub-command registry and error handling."""

from __future__ import annotations

import errno
import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from quantdesk import __version__
from quantdesk.cli.output import CliState, err_console, error_line
from quantdesk.errors import ConfigError, QuantdeskError

__all__ = ["app", "run"]

app = typer.Typer(
    name="quantdesk",
    help="quantdesk: research to live trading at Interactive Brokers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"quantdesk {__version__}")
        raise typer.Exit()


def _parse_overrides(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"override {item!r} is not KEY=VALUE",
                field="--set",
                value=item,
                hint="write it as section.key=value, e.g. --set ib.port=4002",
            )
        out[key.strip()] = value
    return out


def _quiet_ib_async(record: logging.LogRecord) -> bool:
    """Without -v, ib_async's records stay off the terminal (they reach other handlers, and -v shows them)."""
    return not (record.name == "ib_async" or record.name.startswith("ib_async."))


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config file (TOML or YAML). Default: ./quantdesk.toml if present."),
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", "-e", help="Named environment in the config file (paper, live, …).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="Override a config key: section.key=value (repeatable)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details and show tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Global options come before the sub-command."""
    handler = logging.StreamHandler(sys.stderr)
    if not verbose:  # our error line says what went wrong; ib_async's own ERROR lines would repeat it
        handler.addFilter(_quiet_ib_async)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
    )
    ctx.obj = CliState(config_path=config, env=env, overrides=_parse_overrides(set_ or []), verbose=verbose)


def _register() -> None:
    """Attach every sub-command group; imported lazily so ``--help`` stays fast."""
    from quantdesk.cli import commands

    commands.register(app)


def run() -> None:
    """Console-script entry: run the app and turn errors into one red line (traceback only with -v)."""
    _register()
    verbose = any(a in ("-v", "--verbose") for a in sys.argv[1:])
    try:
        rc = app(standalone_mode=False)
    except QuantdeskError as exc:
        if verbose:
            err_console.print(escape(traceback.format_exc()))
        err_console.print(f"[red]{escape(error_line(exc))}[/red]")
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("[red]aborted[/red]")
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/red]")
        sys.exit(130)
    except typer.exceptions.TyperException as exc:  # usage errors: click's own message and exit code
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        code = getattr(exc, "exit_code", 2)
        sys.exit(code if isinstance(code, int) else 2)
    except OSError as exc:
        if exc.errno not in _UNWRITABLE or exc.filename is None:
            _bug(exc, verbose)
        if verbose:
            err_console.print(escape(traceback.format_exc()))
        err_console.print(f"[red]{escape(error_line(_unwritable(exc)))}[/red]")
        sys.exit(2)
    except Exception as exc:  # a bug, not bad input: still one line, traceback with -v
        _bug(exc, verbose)
    # In standalone_mode=False click returns typer.Exit's code instead of raising it.
    sys.exit(rc if isinstance(rc, int) else 0)


_UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


def _unwritable(exc: OSError) -> ConfigError:
    """A file quantdesk must write cannot be written (read-only mount, permissions): say which, and the fix."""
    return ConfigError(
        f"cannot write {exc.filename}: {exc.strerror}",
        value=str(exc.filename),
        hint="make that folder writable; the data directory moves with --set paths.data_dir=<a writable folder>",
    )


def _bug(exc: BaseException, verbose: bool) -> NoReturn:
    if verbose:
        err_console.print(escape(traceback.format_exc()))
    err_console.print(f"[red]{escape(error_line(exc))}[/red] (run with -v for the traceback)")
    sys.exit(1)


if __name__ == "__main__":
    run()
