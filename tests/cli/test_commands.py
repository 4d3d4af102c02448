"""The command registry: what each command imports (a structural check, not a timing) and the listed help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from quantdesk.cli.commands import COMMANDS, LazyGroup

HEAVY = ("alembic", "sqlalchemy", "pandas", "pyarrow", "skfolio", "ib_async", "plotly", "cvxpy", "sklearn")
DATABASE = ("sqlalchemy",)

# Run the real entry point in this process and report, at exit, which heavy packages it imported.
_PROBE = """
import atexit, json, sys
heavy = {heavy!r}
out = {out!r}
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(h for h in heavy if h in sys.modules))))
sys.argv = ["quantdesk", *{args!r}]
from quantdesk.cli.main import run
run()
"""


def _imported(args: list[str], home: Path) -> tuple[int, list[str], str]:
    out = home / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK")}
    env.update(HOME=str(home), QUANTDESK__PATHS__DATA_DIR=str(home / "data"), COLUMNS="80")
    code = _PROBE.format(heavy=HEAVY, out=str(out), args=args)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=home, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    modules: list[str] = json.loads(out.read_text()) if out.exists() else ["<no report>"]
    return done.returncode, modules, done.stderr


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--help"], ()),
        (["--version"], ()),
        (["config", "show"], ()),
        (["config", "--help"], ()),
        (["optimize", "--help"], ()),
        (["data", "list"], ()),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_light_commands_import_no_heavy_package(args: list[str], allowed: tuple[str, ...], tmp_path: Path) -> None:
    rc, modules, err = _imported(args, tmp_path)
    assert rc == 0, err
    assert [m for m in modules if m not in allowed] == []


def test_data_list_reads_the_catalog_of_a_filled_store_without_pandas(tmp_path: Path) -> None:
    rc, _, err = _imported(["data", "sample", "--symbols", "AAPL,MSFT"], tmp_path)
    assert rc == 0, err
    rc, modules, err = _imported(["data", "list"], tmp_path)
    assert rc == 0, err
    assert modules == []


@pytest.mark.parametrize("args", [["orders"], ["fills"], ["history"], ["kill-switch", "status"]], ids=" ".join)
def test_read_commands_on_a_current_database_need_only_sqlalchemy(args: list[str], tmp_path: Path) -> None:
    rc, _, err = _imported(["db", "upgrade"], tmp_path)
    assert rc == 0, err
    rc, modules, err = _imported(args, tmp_path)
    assert rc == 0, err
    assert [m for m in modules if m not in DATABASE] == []


def test_every_listed_summary_is_the_commands_own_help() -> None:
    for entry in COMMANDS:
        command = entry.load()
        own = (command.help or "").split("\n\n")[0].strip()
        assert " ".join(own.split()) == entry.summary, f"update the summary of {entry.name!r} in cli/commands.py"


def test_running_a_command_loads_it_and_help_lists_every_command() -> None:
    group = LazyGroup(name="quantdesk")
    with typer.Context(group) as ctx:
        assert group.list_commands(ctx) == [e.name for e in COMMANDS]
        name, command, rest = group.resolve_command(ctx, ["orders", "--json"])
        assert (name, rest) == ("orders", ["--json"])
        assert command is not None
        assert any(p.name == "json_" for p in command.params)
        assert group.get_command(ctx, "orders") is command
