"""Loading the settings: defaults, a config file with named environments, ``.env``, environment variables, overrides.

Precedence, lowest to highest (a later layer wins, key by key; sections deep-merge):

1. the models' defaults;
2. the config file's top-level sections;
3. the selected environment's section of the file, ``[env.<name>]`` (TOML) or ``env: {<name>: …}`` (YAML);
4. the ``.env`` file (``./.env``, or ``dotenv_path``): only its ``QUANTDESK__*`` lines;
5. process environment variables ``QUANTDESK__SECTION__KEY`` (double underscores, any case, e.g.
   ``QUANTDESK__IB__PORT=4002``, ``QUANTDESK__ALERTS__EMAIL__PASSWORD=…``, ``QUANTDESK__MODE=live``) — a real
   environment variable beats the same key in ``.env``, as with every dotenv tool;
6. overrides ``section.key=value`` (the CLI's ``--set``).

The config file is ``config_path`` (the CLI's ``--config``), else ``$QUANTDESK_CONFIG``, else ``./quantdesk.toml``,
``./quantdesk.yaml`` or ``./quantdesk.yml`` (first found), else none: defaults, ``.env``, variables and overrides
still apply. The format follows the extension (``.toml``, ``.yaml``, ``.yml``). The environment is ``env`` (``--env``),
else ``$QUANTDESK_ENV``, else the file's top-level ``default_env``, else none.

A key without a value (YAML ``null``, e.g. a section whose keys are all commented out) counts as not set.
Every problem is one :class:`~quantdesk.errors.ConfigError` naming the dotted key, the value, where it came from and
the fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import yaml

from quantdesk.config.diagnostics import config_error_from
from quantdesk.config.settings import Settings
from quantdesk.errors import ConfigError

__all__ = [
    "CONFIG_FILE_NAMES",
    "ENV_PREFIX",
    "ENV_VAR_CONFIG",
    "ENV_VAR_ENV",
    "find_config_file",
    "load_settings",
    "read_config_file",
    "read_dotenv",
]

ENV_PREFIX = "QUANTDESK__"
"""Environment variables ``QUANTDESK__SECTION__KEY`` set ``section.key``."""
ENV_VAR_CONFIG = "QUANTDESK_CONFIG"
"""Environment variable naming the config file when ``--config`` is not given."""
ENV_VAR_ENV = "QUANTDESK_ENV"
"""Environment variable naming the environment when ``--env`` is not given."""
CONFIG_FILE_NAMES = ("quantdesk.toml", "quantdesk.yaml", "quantdesk.yml")
"""Looked for in the working directory, in this order, when no config file is named."""

_SUFFIXES = (".toml", ".yaml", ".yml")
_SET_HINT = "write section.key=value, e.g. --set ib.port=4002"


class _Layers:
    """The merged raw settings and, per dotted key, the label of the layer that set it last."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.sources: dict[str, str] = {}

    def _forget(self, key: str) -> None:
        for k in [k for k in self.sources if k == key or k.startswith(key + ".")]:
            del self.sources[k]

    def _node(self, path: tuple[str, ...]) -> dict[str, Any]:
        node = self.data
        for i, part in enumerate(path):
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
                self._forget(".".join(path[: i + 1]))
            node = child
        return node

    def set(self, path: tuple[str, ...], value: Any, label: str) -> None:
        """Set one leaf, replacing whatever was there."""
        self._node(path[:-1])[path[-1]] = value
        key = ".".join(path)
        self._forget(key)
        self.sources[key] = label

    def merge(self, tree: Mapping[Any, Any], label: str, prefix: tuple[str, ...] = ()) -> None:
        """Deep-merge a parsed file section: tables merge key by key, anything else replaces."""
        for raw_key, value in tree.items():
            path = (*prefix, str(raw_key))
            if value is None:
                continue  # YAML's empty value (``paths:`` with every key commented out) means "not set"
            if isinstance(value, Mapping):
                if value:
                    self.merge(value, label, path)
                else:
                    self._node(path)
            else:
                self.set(path, value, label)


def find_config_file(config_path: Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: ``config_path``, else ``$QUANTDESK_CONFIG``, else ``./quantdesk.{toml,yaml,yml}``."""
    found = _locate(config_path, os.environ if environ is None else environ)
    return found[0] if found else None


def _locate(config_path: Path | None, environ: Mapping[str, str]) -> tuple[Path, str] | None:
    if config_path is not None:
        return Path(config_path).expanduser(), "--config"
    named = environ.get(ENV_VAR_CONFIG, "").strip()
    if named:
        return Path(named).expanduser(), ENV_VAR_CONFIG
    for name in CONFIG_FILE_NAMES:
        candidate = Path(name)
        if candidate.is_file():
            return candidate, "the working directory"
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def read_config_file(path: Path, origin: str = "--config") -> dict[str, Any]:
    """Parse a TOML or YAML config file (by extension) into a dict; every failure is a ``ConfigError``."""
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ConfigError(
            f"unsupported config file type {suffix or '(no extension)'!r} for {path}",
            field=origin,
            value=str(path),
            hint="name the file *.toml, *.yaml or *.yml",
        )
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise ConfigError(
            f"config file {path} {what}",
            field=origin,
            value=str(path),
            hint="check the path, or create one with `quantdesk config init`",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read config file {path}: {_one_line(str(exc))}",
            field=origin,
            value=str(path),
            hint="make it a readable UTF-8 text file",
        ) from None
    if suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"invalid TOML in {path}: {_one_line(str(exc))}",
                field=str(path),
                value=str(path),
                hint='fix the syntax at that line: key = value, strings in "quotes", sections as [section]',
            ) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"invalid YAML in {path}: {_yaml_problem(exc)}",
                field=str(path),
                value=str(path),
                hint="fix the syntax at that line: key: value, nested keys indented by spaces (no tabs)",
            ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} holds a {type(data).__name__}, not a mapping of sections",
            field=str(path),
            value=_one_line(repr(data))[:60],
            hint="start the file with sections such as [ib] (TOML) or ib: (YAML)",
        )
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if problem and mark is not None:
        return f"{_one_line(str(problem))} (at line {mark.line + 1}, column {mark.column + 1})"
    return _one_line(str(exc))


def _split_file(raw: dict[str, Any], path: Path) -> tuple[dict[str, Any], dict[str, Mapping[str, Any]], str | None]:
    """Separate a parsed file into base sections, named environments and ``default_env``."""
    base = dict(raw)
    default_env = base.pop("default_env", None)
    if default_env is not None and not isinstance(default_env, str):
        raise ConfigError(
            f"default_env in {path} must be an environment name, got {type(default_env).__name__}",
            field="default_env",
            value=default_env,
            hint='write default_env = "paper" (a name defined as [env.paper])',
        )
    envs = base.pop("env", {})
    if not isinstance(envs, Mapping):
        raise ConfigError(
            f"env in {path} must hold named environments, got {type(envs).__name__}",
            field="env",
            value=envs,
            hint="write each environment as a section [env.<name>] (TOML) or env: {<name>: …} (YAML)",
        )
    for name, section in envs.items():
        if not isinstance(section, Mapping):
            raise ConfigError(
                f"environment {name!r} in {path} must be a section of settings, got {type(section).__name__}",
                field=f"env.{name}",
                value=section,
                hint=f'write [env.{name}] followed by keys such as mode = "paper", or [env.{name}.ib]',
            )
    return base, {str(k): v for k, v in envs.items()}, default_env or None


def _parse_dotenv_value(raw: str) -> str | None:
    """The value of one ``KEY=VALUE`` line: quotes removed, inline ``#`` comments dropped; ``None`` if unclosed."""
    value = raw.strip()
    if value[:1] in ('"', "'"):
        quote = value[0]
        end = value.find(quote, 1)
        while quote == '"' and end > 0 and value[end - 1] == "\\":
            end = value.find(quote, end + 1)
        if end < 0:
            return None
        inner = value[1:end]
        if quote == '"':
            inner = inner.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        return inner
    return re.split(r"\s+#", value, maxsplit=1)[0].strip()


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=VALUE`` lines, optional ``export``, quotes, ``#`` comments."""
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read {path}: {_one_line(str(exc))}", field=str(path), value=str(path), hint="check the file"
        ) from None
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, rest = line.partition("=")
        value = _parse_dotenv_value(rest) if sep else None
        if not key.strip() or value is None:
            raise ConfigError(
                f"line {lineno} of {path} is not KEY=VALUE",
                field=str(path),
                value=f"line {lineno}",
                hint="write one KEY=VALUE per line, e.g. QUANTDESK__IB__PORT=4002, quotes closed",
            )
        out[key.strip()] = value
    return out


def _env_path(name: str) -> tuple[str, ...]:
    parts = tuple(name[len(ENV_PREFIX) :].lower().split("__"))
    if not all(p.strip() for p in parts):
        raise ConfigError(
            f"environment variable {name} is not QUANTDESK__SECTION__KEY",
            field=name,
            value=name,
            hint="separate the section and the key by double underscores, e.g. QUANTDESK__IB__PORT=4002",
        )
    return parts


def _override_path(key: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in key.strip().lower().split("."))
    if not all(parts):
        raise ConfigError(f"override key {key!r} is not section.key", field="--set", value=key, hint=_SET_HINT)
    return parts


def _choose_env(env: str | None, environ: Mapping[str, str], default_env: str | None) -> tuple[str | None, str]:
    if env is not None and env.strip():
        return env.strip(), "--env"
    named = environ.get(ENV_VAR_ENV, "").strip()
    if named:
        return named, ENV_VAR_ENV
    if default_env:
        return default_env.strip(), "default_env"
    return None, ""


def load_settings(
    config_path: Path | None = None,
    env: str | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path | None = None,
) -> Settings:
    """Load the effective settings; see the module docstring for the layers and their precedence.

    Parameters
    ----------
    config_path
        The config file; default ``$QUANTDESK_CONFIG``, else ``./quantdesk.{toml,yaml,yml}``, else none.
    env
        The named environment of the file to apply; default ``$QUANTDESK_ENV``, else the file's ``default_env``.
    overrides
        ``{"section.key": "value"}`` pairs that beat every other layer (the CLI's ``--set``).
    environ
        The environment variables to read; default ``os.environ``.
    dotenv_path
        The ``.env`` file; default ``./.env`` when it exists. A path given here must exist.
    """
    environ = os.environ if environ is None else environ
    layers = _Layers()

    located = _locate(config_path, environ)
    path = located[0] if located else None
    envs: dict[str, Mapping[str, Any]] = {}
    default_env: str | None = None
    if located is not None:
        path, origin = located
        base, envs, default_env = _split_file(read_config_file(path, origin), path)
        layers.merge(base, f"file {path}")

    env_name, env_origin = _choose_env(env, environ, default_env)
    if env_name is not None:
        if path is None:
            raise ConfigError(
                f"environment {env_name!r} was asked for but there is no config file to take it from",
                field=env_origin,
                value=env_name,
                hint="pass --config FILE (or create ./quantdesk.toml with `quantdesk config init`), or drop the env",
            )
        if env_name not in envs:
            available = ", ".join(sorted(envs)) or "none defined"
            raise ConfigError(
                f"unknown environment {env_name!r} in {path} (available: {available})",
                field=env_origin,
                value=env_name,
                hint=f"use one of: {available}; an environment is a section [env.<name>] of the file",
            )
        layers.merge(envs[env_name], f"file {path} [env.{env_name}]")

    dotenv = Path(dotenv_path).expanduser() if dotenv_path is not None else Path(".env")
    if dotenv_path is not None and not dotenv.is_file():
        raise ConfigError(
            f"dotenv file {dotenv} does not exist", field="dotenv_path", value=str(dotenv), hint="check the path"
        )
    if dotenv.is_file():
        for name, value in sorted(read_dotenv(dotenv).items()):
            if name.upper().startswith(ENV_PREFIX):
                layers.set(_env_path(name), value, f"{dotenv} ({name})")

    for name, value in sorted(environ.items()):
        if name.upper().startswith(ENV_PREFIX):
            layers.set(_env_path(name), value, f"env var {name}")

    for key, value in (overrides or {}).items():
        layers.set(_override_path(key), value, f"--set {key.strip()}")

    try:
        settings = Settings.model_validate(layers.data)
    except pydantic.ValidationError as exc:
        raise config_error_from(exc, layers.sources, data=layers.data) from None
    return settings.with_origin(path, env_name, layers.sources)
