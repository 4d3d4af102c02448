"""The settings models: one frozen pydantic model per section, validated at load, safe by default.

Every section forbids unknown keys, so a typo is an error (the loader names the key and suggests the closest valid
one). Secrets are ``SecretStr`` and show as ``**********`` in ``repr``, JSON and ``quantdesk config show``. Values
arriving as strings (environment variables, ``.env``, ``--set``) are coerced by pydantic; lists accept a JSON list
or comma-separated text (``AAPL,TSLA``); enum-like values are case-insensitive.

Going live needs ``mode = "live"`` *and* both confirmations: ``live.confirm`` set to
:data:`LIVE_CONFIRMATION_PHRASE` and the CLI's ``--live`` answered with yes. Loading an unconfirmed live config never
fails (so it can be shown and validated); :func:`ensure_trading_mode` raises when something is about to trade.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from quantdesk.config.fields import (
    PORT_HINT,
    DirPath,
    Host,
    OptionalDirPath,
    OptionalSecret,
    StrList,
    default_data_dir,
    default_database_url,
    expand_path,
    hint,
    lower,
    rule_error,
    seconds_field,
    upper,
)
from quantdesk.config.masking import mask_url
from quantdesk.config.risk_settings import RISK_RULES, RiskSettings
from quantdesk.errors import ConfigError, LiveTradingNotConfirmed

__all__ = [
    "LIVE_CONFIRMATION_PHRASE",
    "LIVE_PORTS",
    "PAPER_PORTS",
    "RISK_RULES",
    "AlertsSettings",
    "ApiSettings",
    "DatabaseSettings",
    "EmailAlerts",
    "HealthSettings",
    "IBSettings",
    "LiveSettings",
    "LoggingSettings",
    "Mode",
    "OrderSettings",
    "PathsSettings",
    "RiskSettings",
    "Settings",
    "SmsAlerts",
    "WebhookAlerts",
    "default_data_dir",
    "default_database_url",
    "ensure_trading_mode",
]

Mode = Literal["paper", "live"]

LIVE_CONFIRMATION_PHRASE = "I understand this trades real money"
"""The exact text ``live.confirm`` must hold before quantdesk sends an order to a live account."""

PAPER_PORTS: Mapping[int, str] = {7497: "TWS paper", 4002: "IB Gateway paper"}
LIVE_PORTS: Mapping[int, str] = {7496: "TWS live", 4001: "IB Gateway live"}

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class _Section(BaseModel):
    """Base of every section: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- sections -------------------------------------------------------------------------------------------------


class IBSettings(_Section):
    """The connection to TWS or IB Gateway: one fixed client id per role (data, execution)."""

    host: Host = "127.0.0.1"
    port: int = Field(
        7497,
        ge=1,
        le=65535,
        json_schema_extra=hint(f"{PORT_HINT}: 7497 TWS paper, 7496 TWS live, 4002 Gateway paper, 4001 Gateway live"),
    )
    client_id_data: int = Field(1, ge=0, json_schema_extra=hint("use a client id >= 0, distinct per connection"))
    client_id_execution: int = Field(
        2, ge=0, json_schema_extra=hint("use a client id >= 0, distinct per connection (0 also sees manual orders)")
    )
    account: str = Field("", json_schema_extra=hint("the IB account id, e.g. DU1234567; empty to auto-detect"))
    read_only: bool = False
    connect_timeout: float = seconds_field(10.0)
    request_timeout: float = seconds_field(30.0)
    auto_reconnect: bool = True
    reconnect_max_attempts: int = Field(10, ge=1, json_schema_extra=hint("use a whole number >= 1"))
    reconnect_backoff_max: float = seconds_field(32.0)
    market_data_type: Annotated[Literal["live", "frozen", "delayed", "delayed_frozen"], BeforeValidator(lower)] = "live"

    @field_validator("account", mode="before")
    @classmethod
    def _strip_account(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _distinct_client_ids(self) -> IBSettings:
        if self.client_id_data == self.client_id_execution:
            raise rule_error(
                f"equals ib.client_id_data ({self.client_id_data}); two connections cannot share a client id",
                f"give ib.client_id_execution another value, e.g. {self.client_id_data + 1}",
                key="client_id_execution",
                value=self.client_id_execution,
            )
        return self


class LiveSettings(_Section):
    """The explicit confirmation that live trading needs on top of ``mode = "live"``."""

    confirm: str = Field(
        "", json_schema_extra=hint(f'set live.confirm = "{LIVE_CONFIRMATION_PHRASE}" to allow live trading')
    )

    @property
    def confirmed(self) -> bool:
        """Whether ``confirm`` holds the exact phrase (surrounding blanks ignored)."""
        return self.confirm.strip() == LIVE_CONFIRMATION_PHRASE


class OrderSettings(_Section):
    """Defaults for orders that do not say otherwise."""

    default_type: Annotated[Literal["MARKET", "LIMIT"], BeforeValidator(upper)] = "LIMIT"
    limit_offset_pct: float = Field(
        0.001, ge=0, le=1, json_schema_extra=hint("write a fraction in [0, 1], e.g. 0.001 for 0.1%")
    )
    tif: Annotated[Literal["DAY", "GTC", "IOC", "FOK", "OPG"], BeforeValidator(upper)] = "DAY"
    outside_rth: bool = False


class HealthSettings(_Section):
    """How often the health monitor checks the connection, and how long one check may take."""

    check_interval: float = seconds_field(30.0)
    timeout: float = seconds_field(10.0)

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> HealthSettings:
        if self.timeout > self.check_interval:
            raise rule_error(
                f"is longer than health.check_interval ({self.check_interval:g} s)",
                "make health.timeout at most health.check_interval",
                key="timeout",
                value=self.timeout,
            )
        return self


class DatabaseSettings(_Section):
    """The SQLAlchemy database; by default a SQLite file in ``paths.data_dir``."""

    url: str = Field(
        default_factory=lambda: default_database_url(default_data_dir()),
        json_schema_extra=hint("write a SQLAlchemy URL such as sqlite:///path/quantdesk.db, or leave it unset"),
    )
    echo: bool = False

    @field_validator("url", mode="after")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z][A-Za-z0-9+]*://", value.strip()):
            raise rule_error("is not a database URL", "write dialect://…, e.g. sqlite:///path/quantdesk.db")
        return value.strip()

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, (mask_url(value) if name == "url" and isinstance(value, str) else value)


class PathsSettings(_Section):
    """Where quantdesk keeps its files; ``~`` and ``$VARS`` are expanded, relative paths are from the working dir."""

    data_dir: DirPath = Field(default_factory=default_data_dir)
    log_dir: OptionalDirPath = None


class ApiSettings(_Section):
    """The REST + WebSocket server."""

    host: Host = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535, json_schema_extra=hint(PORT_HINT))
    secret_key: OptionalSecret = None
    cors_origins: StrList = ()


class EmailAlerts(_Section):
    """Alerts by email over SMTP."""

    enabled: bool = False
    smtp_host: str = ""
    smtp_port: int = Field(587, ge=1, le=65535, json_schema_extra=hint(PORT_HINT))
    use_tls: bool = True
    username: str = ""
    password: OptionalSecret = None
    sender: str = ""
    recipients: StrList = ()

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> EmailAlerts:
        if self.enabled:
            for key in ("smtp_host", "sender", "recipients"):
                if not getattr(self, key):
                    raise rule_error(
                        "is required when alerts.email.enabled is true",
                        f"set alerts.email.{key}, or set alerts.email.enabled = false",
                        key=key,
                        value=getattr(self, key),
                    )
        return self


class SmsAlerts(_Section):
    """Alerts by SMS through a provider's API."""

    enabled: bool = False
    provider: Annotated[Literal["twilio"], BeforeValidator(lower)] = "twilio"
    account_sid: str = ""
    auth_token: OptionalSecret = None
    sender: str = ""
    recipients: StrList = ()

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> SmsAlerts:
        if self.enabled:
            for key in ("account_sid", "auth_token", "sender", "recipients"):
                if not getattr(self, key):
                    raise rule_error(
                        "is required when alerts.sms.enabled is true",
                        f"set alerts.sms.{key}, or set alerts.sms.enabled = false",
                        key=key,
                        value=getattr(self, key),
                    )
        return self


class WebhookAlerts(_Section):
    """Alerts as JSON POSTs; the URL and headers are secrets (webhook URLs often embed a token)."""

    enabled: bool = False
    url: OptionalSecret = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout: float = seconds_field(10.0)

    @model_validator(mode="after")
    def _url_when_enabled(self) -> WebhookAlerts:
        url = self.url.get_secret_value() if self.url is not None else ""
        if (self.enabled or url) and not re.match(r"^https?://\S+$", url):
            raise rule_error(
                "must be an http(s) URL when alerts.webhook.enabled is true",
                "set alerts.webhook.url = https://…, or set alerts.webhook.enabled = false",
                key="url",
                value=self.url,
            )
        return self


class AlertsSettings(_Section):
    """Alert channels; each is off until enabled and completed."""

    email: EmailAlerts = Field(default_factory=EmailAlerts)
    sms: SmsAlerts = Field(default_factory=SmsAlerts)
    webhook: WebhookAlerts = Field(default_factory=WebhookAlerts)


class LoggingSettings(_Section):
    """Log verbosity."""

    level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(upper)] = "INFO"


# ---- the root -------------------------------------------------------------------------------------------------


class Settings(_Section):
    """The effective configuration of one quantdesk process; build it with ``quantdesk.config.load_settings``."""

    mode: Annotated[Mode, BeforeValidator(lower)] = Field(
        "paper", json_schema_extra=hint('use "paper" or "live" (live also needs live.confirm)')
    )
    ib: IBSettings = Field(default_factory=IBSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    orders: OrderSettings = Field(default_factory=OrderSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    paths: PathsSettings = Field(default_factory=PathsSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    _source_file: Path | None = PrivateAttr(default=None)
    _env_name: str | None = PrivateAttr(default=None)
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _default_database_url(cls, data: Any) -> Any:
        """Fill ``database.url`` from ``paths.data_dir`` when the database URL is not given."""
        if not isinstance(data, Mapping):
            return data
        database = data.get("database")
        if isinstance(database, DatabaseSettings) or (isinstance(database, Mapping) and database.get("url")):
            return data
        if database is not None and not isinstance(database, Mapping):
            return data  # the wrong type: field validation reports it
        paths = data.get("paths")
        raw_dir: Any = None
        if isinstance(paths, PathsSettings):
            raw_dir = paths.data_dir
        elif isinstance(paths, Mapping):
            raw_dir = paths.get("data_dir")
        elif paths is not None:
            return data
        if raw_dir is None or raw_dir == "":
            data_dir = default_data_dir()
        elif isinstance(raw_dir, str | Path):
            data_dir = expand_path(Path(raw_dir))
        else:
            return data
        return {**data, "database": {**(database or {}), "url": default_database_url(data_dir)}}

    # -- where it came from

    @property
    def source_file(self) -> Path | None:
        """The config file these settings were read from, or ``None`` (defaults, env vars and overrides only)."""
        return self._source_file

    @property
    def env_name(self) -> str | None:
        """The named environment of the config file that was applied, or ``None``."""
        return self._env_name

    @property
    def sources(self) -> Mapping[str, str]:
        """Where each non-default value came from: dotted key → ``file …``, ``.env …``, ``env var …``, ``--set …``."""
        return dict(self._sources)

    def with_origin(self, source_file: Path | None, env_name: str | None, sources: Mapping[str, str]) -> Settings:
        """A copy that remembers its config file, environment name and per-key sources (used by the loader)."""
        copy = self.model_copy()
        copy._source_file = source_file
        copy._env_name = env_name
        copy._sources = dict(sources)
        return copy

    # -- trading mode

    @property
    def is_live(self) -> bool:
        """Whether the config asks for live trading (``mode = "live"``), confirmed or not."""
        return self.mode == "live"

    @property
    def live_confirmed(self) -> bool:
        """Whether the config alone confirms live trading: live mode and ``live.confirm`` holds the phrase."""
        return self.is_live and self.live.confirmed

    def require_live_confirmed(self, cli_confirmed: bool = False) -> None:
        """Raise ``LiveTradingNotConfirmed`` unless live mode is confirmed by both the config and ``cli_confirmed``
        (see :func:`ensure_trading_mode`)."""
        ensure_trading_mode(self, cli_confirmed)

    # -- display and sanity

    def masked_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready data with every secret masked (and the database URL's password hidden)."""
        data = self.model_dump(mode="json")
        data["database"]["url"] = mask_url(data["database"]["url"])
        return data

    def warnings(self) -> list[str]:
        """Legal but suspicious combinations, for ``quantdesk config validate`` and the start-up log."""
        out: list[str] = []
        port = self.ib.port
        if not self.is_live and port in LIVE_PORTS:
            out.append(
                f"ib.port {port} is the {LIVE_PORTS[port]} port but mode is paper: use 7497 (TWS paper) or "
                '4002 (Gateway paper), or set mode = "live" to trade live'
            )
        if self.is_live and port in PAPER_PORTS:
            out.append(
                f"mode is live but ib.port {port} is the {PAPER_PORTS[port]} port: use 7496 (TWS live) or "
                "4001 (Gateway live)"
            )
        if self.is_live and not self.live.confirmed:
            detail = "does not match the phrase" if self.live.confirm.strip() else "is not set"
            out.append(
                f"mode is live but live.confirm {detail}: trading will refuse to start until "
                f'live.confirm = "{LIVE_CONFIRMATION_PHRASE}" (and each live command needs --live, answered yes)'
            )
        account = self.ib.account
        if account and self.is_live and account.startswith("D"):
            out.append(f"ib.account {account} looks like a paper account (D…) but mode is live")
        if account and not self.is_live and not account.startswith("D"):
            out.append(f"ib.account {account} looks like a live account but mode is paper")
        if not self.risk.enabled:
            out.append("risk.enabled is false: no pre-trade risk checks" + (" in LIVE mode" if self.is_live else ""))
        elif self.risk.disabled_rules and self.is_live:
            out.append(f"risk rules disabled in live mode: {', '.join(self.risk.disabled_rules)}")
        if self.api.host not in _LOOPBACK and self.api.secret_key is None:
            out.append(
                f"api.host {self.api.host} is reachable from other machines but api.secret_key is not set: "
                "set QUANTDESK__API__SECRET_KEY"
            )
        return out


def ensure_trading_mode(settings: Settings, cli_confirmed: bool = False) -> Mode:
    """Return the mode to trade in, or raise when live trading is asked for without its confirmation.

    Paper needs nothing. Live needs all three, the safe choice: ``mode = "live"``, ``live.confirm`` set to
    :data:`LIVE_CONFIRMATION_PHRASE`, *and* ``cli_confirmed`` (the CLI's ``--live`` answered with yes), so neither
    a stray flag nor a config file left in live mode trades real money alone. A ``--live`` confirmation with a
    paper config is refused too: the config, not the flag, decides the mode.
    """
    if not settings.is_live:
        if cli_confirmed:
            raise ConfigError(
                "--live was given but the configuration is in paper mode",
                field="mode",
                value=settings.mode,
                hint='set mode = "live" (e.g. --env live or --set mode=live), or drop --live to trade paper',
            )
        return "paper"
    if settings.live.confirmed and cli_confirmed:
        return "live"
    if settings.live.confirmed:
        raise LiveTradingNotConfirmed(
            'mode is "live" and live.confirm is set, but this command was not confirmed with --live',
            field="--live",
            value=False,
            hint="pass --live and answer yes at the prompt (live needs both), or use a paper configuration",
        )
    given = settings.live.confirm.strip()
    state = f"is {given!r}, not the confirmation phrase" if given else "is empty"
    raise LiveTradingNotConfirmed(
        f'mode is "live" but live trading is not confirmed: live.confirm {state}',
        field="live.confirm",
        value=given,
        hint=(
            f'set live.confirm = "{LIVE_CONFIRMATION_PHRASE}" in the config file '
            "(or QUANTDESK__LIVE__CONFIRM); live trading needs it and --live answered with yes"
        ),
    )
