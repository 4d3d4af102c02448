"""The commented example configuration that ``quantdesk config init`` writes, in TOML and in YAML.

The top-level sections spell out the defaults, so the file documents every key; the two environments show what
``paper`` and ``live`` usually change. ``tests/config`` checks that both texts load, agree with each other and with
the models' defaults.
"""

from __future__ import annotations

from pathlib import Path

from quantdesk.errors import ConfigError

__all__ = ["EXAMPLE_TOML", "EXAMPLE_YAML", "example_for"]

EXAMPLE_TOML = """\
# quantdesk configuration, written by `quantdesk config init`.
#
# Precedence, lowest to highest (a later layer wins, key by key):
#   built-in defaults
#   < the top-level sections of this file
#   < the selected environment's section, [env.<name>]
#   < ./.env (only its QUANTDESK__* lines)
#   < environment variables QUANTDESK__SECTION__KEY (a real variable beats the same key in .env)
#   < command-line overrides: quantdesk --set section.key=value
#
# Environment variables use double underscores and any case: QUANTDESK__IB__PORT=4002,
# QUANTDESK__RISK__MAX_POSITION_PCT=0.05, QUANTDESK__MODE=live. Lists are comma separated: A,B.
# The environment is chosen by --env NAME, else $QUANTDESK_ENV, else default_env below.
# Keep secrets (passwords, tokens, the API key) out of this file: put them in environment
# variables or in ./.env, which git ignores. `quantdesk config show` always masks them.
# Check the result with: quantdesk config validate

default_env = "paper"

# "paper" or "live". Live trading also needs [live] confirm (below) and --live answered with yes.
mode = "paper"

[ib]
host = "127.0.0.1"
# TWS: 7497 paper, 7496 live. IB Gateway: 4002 paper, 4001 live.
port = 7497
# One fixed client id per role; they must differ. Client id 0 also sees orders placed by hand in TWS.
client_id_data = 1
client_id_execution = 2
# The IB account id (DU... for paper); empty picks the only managed account.
account = ""
read_only = false
connect_timeout = 10.0        # seconds
request_timeout = 30.0        # seconds
auto_reconnect = true
reconnect_max_attempts = 10
reconnect_backoff_max = 32.0  # seconds, the cap of the exponential back-off
# "live", "frozen", "delayed" or "delayed_frozen"
market_data_type = "live"

[live]
# Going live needs mode = "live" AND this exact phrase AND --live answered with yes:
# confirm = "I understand this trades real money"
confirm = ""

[risk]
# Pre-trade checks, on unless enabled = false or the rule is named in disabled_rules.
# Fractions are of net liquidation (0.10 is 10%); amounts are in the account's base currency.
enabled = true
max_position_pct = 0.1          # a position at most 10% of net liquidation (reducing orders always pass)
max_order_notional = 100000.0   # no single order above this amount
price_band_pct = 0.05           # limit and stop prices within 5% of the last price (fat finger)
max_trades_per_day = 100        # orders accepted a day
allow_short_selling = false     # false: no sell beyond the long position
restricted_symbols = []         # no orders in these symbols, e.g. ["GME", "AMC"]
max_gross_exposure = 1.0        # gross exposure at most 1.0 x net liquidation (no leverage)
# max_gross_exposure_amount = 2000000.0  # an absolute cap on gross exposure (unset: none)
# Kill switch (ACTIVE / REDUCING / HALTED, kept in the database; `quantdesk kill-switch` moves it by hand).
daily_loss_limit_pct = 0.02     # HALTED once the day's loss reaches 2%
max_drawdown_pct = 0.1          # HALTED once the drawdown from the peak reaches 10%
psr_floor = 0.05                # when the probabilistic Sharpe ratio falls below this ...
psr_action = "reducing"         # ... go "reducing" (only risk-reducing orders) or "halted"
psr_min_observations = 20       # returns needed before the PSR can trip
psr_benchmark_sharpe = 0.0      # the per-period Sharpe ratio the PSR tests against
disconnect_halt_seconds = 60.0  # HALTED after a broker disconnect longer than this
# Throttles
max_orders_per_second = 45.0    # toward IB, which disconnects above 50 messages a second
max_participation_pct = 0.1     # a child order takes at most 10% of the expected volume ...
participation_interval = 60.0   # ... of one interval of this many seconds; larger orders are sliced
adv_days = 20                   # the expected volume is the average of this many daily bars from the broker
# Margin monitoring: margin use (of net liquidation) that warns, and that is critical
margin_warning_pct = 0.5
margin_critical_pct = 0.8
# Turn single rules off by name: order_sanity, max_position, max_order_notional, price_band,
# max_trades_per_day, short_selling, restricted_symbols, max_gross_exposure, max_leverage, trading_hours,
# daily_loss_limit, max_drawdown, psr, disconnect, order_rate, participation
disabled_rules = []

[orders]
default_type = "LIMIT"    # "LIMIT" or "MARKET"
limit_offset_pct = 0.001  # a default limit is placed this far through the quote
tif = "DAY"               # DAY, GTC, IOC, FOK or OPG
outside_rth = false

[health]
check_interval = 30.0  # seconds
timeout = 10.0         # seconds, at most check_interval

[database]
# Default: a SQLite file in paths.data_dir, sqlite:///<data_dir>/quantdesk.db
# url = "postgresql+psycopg://quantdesk@localhost/quantdesk"  (put a password in QUANTDESK__DATABASE__URL)
echo = false

[paths]
# Default ~/.quantdesk; ~ and $VARS are expanded, relative paths start at the working directory.
# data_dir = "~/.quantdesk"
# log_dir = "~/.quantdesk/logs"

[api]
host = "127.0.0.1"
port = 8000
# secret_key: set QUANTDESK__API__SECRET_KEY instead of writing it here.
cors_origins = []

[alerts.email]
enabled = false
smtp_host = ""
smtp_port = 587
use_tls = true
username = ""
# password: set QUANTDESK__ALERTS__EMAIL__PASSWORD
sender = ""
recipients = []

[alerts.sms]
enabled = false
provider = "twilio"
account_sid = ""
# auth_token: set QUANTDESK__ALERTS__SMS__AUTH_TOKEN
sender = ""
recipients = []

[alerts.webhook]
enabled = false
# url: set QUANTDESK__ALERTS__WEBHOOK__URL (webhook URLs often embed a token)
# headers: QUANTDESK__ALERTS__WEBHOOK__HEADERS__AUTHORIZATION="Bearer ..."
timeout = 10.0

[logging]
level = "INFO"  # DEBUG, INFO, WARNING, ERROR or CRITICAL

# ---- named environments: each is deep-merged over the sections above --------------------------

[env.paper]
mode = "paper"

[env.paper.ib]
port = 7497

[env.live]
mode = "live"

[env.live.ib]
port = 7496
client_id_data = 11
client_id_execution = 12

[env.live.live]
# Uncomment to confirm live trading (each live command still needs --live, answered yes):
# confirm = "I understand this trades real money"
"""

EXAMPLE_YAML = """\
# quantdesk configuration, written by `quantdesk config init`.
#
# Precedence, lowest to highest (a later layer wins, key by key):
#   built-in defaults
#   < the top-level sections of this file
#   < the selected environment's section, env: {<name>: ...}
#   < ./.env (only its QUANTDESK__* lines)
#   < environment variables QUANTDESK__SECTION__KEY (a real variable beats the same key in .env)
#   < command-line overrides: quantdesk --set section.key=value
#
# Environment variables use double underscores and any case: QUANTDESK__IB__PORT=4002,
# QUANTDESK__RISK__MAX_POSITION_PCT=0.05, QUANTDESK__MODE=live. Lists are comma separated: A,B.
# The environment is chosen by --env NAME, else $QUANTDESK_ENV, else default_env below.
# Keep secrets (passwords, tokens, the API key) out of this file: put them in environment
# variables or in ./.env, which git ignores. `quantdesk config show` always masks them.
# Check the result with: quantdesk config validate

default_env: paper

# "paper" or "live". Live trading also needs live.confirm (below) and --live answered with yes.
mode: paper

ib:
  host: 127.0.0.1
  # TWS: 7497 paper, 7496 live. IB Gateway: 4002 paper, 4001 live.
  port: 7497
  # One fixed client id per role; they must differ. Client id 0 also sees orders placed by hand in TWS.
  client_id_data: 1
  client_id_execution: 2
  # The IB account id (DU... for paper); empty picks the only managed account.
  account: ""
  read_only: false
  connect_timeout: 10.0        # seconds
  request_timeout: 30.0        # seconds
  auto_reconnect: true
  reconnect_max_attempts: 10
  reconnect_backoff_max: 32.0  # seconds, the cap of the exponential back-off
  market_data_type: live       # live, frozen, delayed or delayed_frozen

live:
  # Going live needs mode: live AND this exact phrase AND --live answered with yes:
  # confirm: "I understand this trades real money"
  confirm: ""

risk:
  # Pre-trade checks, on unless enabled: false or the rule is named in disabled_rules.
  # Fractions are of net liquidation (0.10 is 10%); amounts are in the account's base currency.
  enabled: true
  max_position_pct: 0.1          # a position at most 10% of net liquidation (reducing orders always pass)
  max_order_notional: 100000.0   # no single order above this amount
  price_band_pct: 0.05           # limit and stop prices within 5% of the last price (fat finger)
  max_trades_per_day: 100        # orders accepted a day
  allow_short_selling: false     # false: no sell beyond the long position
  restricted_symbols: []         # no orders in these symbols, e.g. [GME, AMC]
  max_gross_exposure: 1.0        # gross exposure at most 1.0 x net liquidation (no leverage)
  # max_gross_exposure_amount: 2000000.0  # an absolute cap on gross exposure (unset: none)
  # Kill switch (ACTIVE / REDUCING / HALTED, kept in the database; `quantdesk kill-switch` moves it by hand).
  daily_loss_limit_pct: 0.02     # HALTED once the day's loss reaches 2%
  max_drawdown_pct: 0.1          # HALTED once the drawdown from the peak reaches 10%
  psr_floor: 0.05                # when the probabilistic Sharpe ratio falls below this ...
  psr_action: reducing           # ... go reducing (only risk-reducing orders) or halted
  psr_min_observations: 20       # returns needed before the PSR can trip
  psr_benchmark_sharpe: 0.0      # the per-period Sharpe ratio the PSR tests against
  disconnect_halt_seconds: 60.0  # HALTED after a broker disconnect longer than this
  # Throttles
  max_orders_per_second: 45.0    # toward IB, which disconnects above 50 messages a second
  max_participation_pct: 0.1     # a child order takes at most 10% of the expected volume ...
  participation_interval: 60.0   # ... of one interval of this many seconds; larger orders are sliced
  adv_days: 20                   # the expected volume is the average of this many daily bars from the broker
  # Margin monitoring: margin use (of net liquidation) that warns, and that is critical
  margin_warning_pct: 0.5
  margin_critical_pct: 0.8
  # Turn single rules off by name: order_sanity, max_position, max_order_notional, price_band,
  # max_trades_per_day, short_selling, restricted_symbols, max_gross_exposure, max_leverage, trading_hours,
  # daily_loss_limit, max_drawdown, psr, disconnect, order_rate, participation
  disabled_rules: []

orders:
  default_type: LIMIT     # LIMIT or MARKET
  limit_offset_pct: 0.001 # a default limit is placed this far through the quote
  tif: DAY                # DAY, GTC, IOC, FOK or OPG
  outside_rth: false

health:
  check_interval: 30.0  # seconds
  timeout: 10.0         # seconds, at most check_interval

database:
  # Default: a SQLite file in paths.data_dir, sqlite:///<data_dir>/quantdesk.db
  # url: postgresql+psycopg://quantdesk@localhost/quantdesk  (put a password in QUANTDESK__DATABASE__URL)
  echo: false

paths:
  # Default ~/.quantdesk; ~ and $VARS are expanded, relative paths start at the working directory.
  # data_dir: ~/.quantdesk
  # log_dir: ~/.quantdesk/logs

api:
  host: 127.0.0.1
  port: 8000
  # secret_key: set QUANTDESK__API__SECRET_KEY instead of writing it here.
  cors_origins: []

alerts:
  email:
    enabled: false
    smtp_host: ""
    smtp_port: 587
    use_tls: true
    username: ""
    # password: set QUANTDESK__ALERTS__EMAIL__PASSWORD
    sender: ""
    recipients: []
  sms:
    enabled: false
    provider: twilio
    account_sid: ""
    # auth_token: set QUANTDESK__ALERTS__SMS__AUTH_TOKEN
    sender: ""
    recipients: []
  webhook:
    enabled: false
    # url: set QUANTDESK__ALERTS__WEBHOOK__URL (webhook URLs often embed a token)
    # headers: QUANTDESK__ALERTS__WEBHOOK__HEADERS__AUTHORIZATION="Bearer ..."
    timeout: 10.0

logging:
  level: INFO  # DEBUG, INFO, WARNING, ERROR or CRITICAL

# ---- named environments: each is deep-merged over the sections above ----
env:
  paper:
    mode: paper
    ib:
      port: 7497
  live:
    mode: live
    ib:
      port: 7496
      client_id_data: 11
      client_id_execution: 12
    live:
      # Uncomment to confirm live trading (each live command still needs --live, answered yes):
      # confirm: "I understand this trades real money"
"""


def example_for(path: Path) -> str:
    """The example text in the format ``path``'s extension asks for (``.toml``, ``.yaml``, ``.yml``)."""
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return EXAMPLE_TOML
    if suffix in (".yaml", ".yml"):
        return EXAMPLE_YAML
    raise ConfigError(
        f"cannot write a config file of type {suffix or '(no extension)'!r}",
        field="PATH",
        value=str(path),
        hint="name it *.toml, *.yaml or *.yml, e.g. quantdesk.toml",
    )
