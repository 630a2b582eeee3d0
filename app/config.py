"""Settings: one frozen object read from the environment and `.env`.

Every setting is declared once in `SETTINGS` (name, default, parser, description); that
table drives loading, `.env.example` and the README's settings list, and a test fails
when `.env.example` lacks one. Names that carry a quantity carry its unit.
A bad value stops start-up with `ConfigError`, whose one-line message names the setting.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Callable, Mapping

from dotenv import dotenv_values

from .payouts.conversion import ChainAsset, PayoutLimit, parse_chain_assets, parse_payout_limits


class ConfigError(ValueError):
    """A setting has a value the service cannot use; the message names the setting."""


def _int_in(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value
    return parse


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().upper()
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value
    return parse


def _text(raw: str) -> str:
    return raw.strip()


def _secret(raw: str) -> str:
    value = raw.strip()
    if value and len(value) < 32:
        raise ValueError("must be empty (generated) or at least 32 characters")
    return value


def _mnemonic(raw: str) -> str:
    words = raw.split()
    if not words:
        return ""
    if len(words) not in (12, 15, 18, 21, 24):
        raise ValueError("must be empty (generated) or a BIP-39 mnemonic of 12-24 words")
    from .payouts.chain import libs  # eth-account, imported only when a seed is set
    libs()
    from eth_account.hdaccount import Language
    from eth_account.hdaccount.mnemonic import Mnemonic
    if not Mnemonic(Language.ENGLISH).is_mnemonic_valid(" ".join(words)):
        raise ValueError("is not a valid BIP-39 mnemonic (an unknown word, or the checksum word is wrong)")
    return " ".join(words)


def _optional_int(lo: int, hi: int) -> Callable[[str], int | None]:
    def parse(raw: str) -> int | None:
        return _int_in(lo, hi)(raw) if raw.strip() else None
    return parse


def _parsed(parse_text: Callable[[str], object]) -> Callable[[str], object]:
    """A structured setting (its parser raises ValueError saying what is wrong)."""
    return lambda raw: parse_text(raw.strip())


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    parse: Callable[[str], object]
    description: str


SETTINGS: tuple[Setting, ...] = (
    Setting("HOST", "127.0.0.1", _text, "Address the HTTP server listens on."),
    Setting("PORT", "8080", _int_in(0, 65535), "TCP port of the HTTP server (0 picks a free one)."),
    Setting("DATABASE_PATH", "data/app.db", _text, "The SQLite file; its folder holds backups and the generated admin key."),
    Setting("ADMIN_API_KEY", "", _text, "Admin API key. Empty: one is generated on first start and written to data/admin_api_key (0600)."),
    Setting("SQLITE_SYNCHRONOUS", "FULL", _choice("FULL", "NORMAL", "EXTRA"), "SQLite synchronous pragma for the writer (FULL: a 2xx is durable)."),
    Setting("SQLITE_BUSY_TIMEOUT_MS", "5000", _int_in(0, 600_000), "How long a connection waits on a lock held by another process."),
    Setting("MEMORY_BUDGET_MB", "192", _int_in(32, 65_536), "The process's memory budget in MiB: SQLite page caches take half (the writer a third of that, the read connections the rest); README, Storage."),
    Setting("SQLITE_WAL_AUTOCHECKPOINT_PAGES", "1000", _int_in(0, 1_000_000), "WAL pages before SQLite copies them back into the database file (0: never automatically)."),
    Setting("LOG_LEVEL", "INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "Log level of the JSON logs."),
    Setting("WRITER_QUEUE_MAX", "20000", _int_in(1, 1_000_000), "Commands waiting for the writer before new ones get 503 unavailable."),
    Setting("WRITER_BATCH_MAX", "512", _int_in(1, 10_000), "Most commands the writer commits in one transaction (group commit)."),
    Setting("READER_POOL_SIZE", "4", _int_in(1, 64), "Read-only SQLite connections for queries."),
    Setting("MAX_BODY_BYTES", "1048576", _int_in(1024, 64 * 1024 * 1024), "Largest request body accepted; larger is 413."),
    Setting("IMPORT_MAX_BYTES", "52428800", _int_in(1024, 1024 * 1024 * 1024), "Largest CSV body of POST /v1/imports/customers and /v1/imports/events (spooled to a temporary file past MAX_BODY_BYTES); larger is 413."),
    Setting("BATCH_MAX_TRANSFERS", "1000", _int_in(1, 10_000), "Most transfers in one POST /v1/transfers/batch."),
    Setting("RATE_LIMIT_PER_S", "1000", _int_in(0, 1_000_000), "Requests per second per API key (token bucket refill); 0 disables the limit."),
    Setting("RATE_LIMIT_BURST", "2000", _int_in(1, 10_000_000), "Token bucket size per API key."),
    Setting("IDEMPOTENCY_TTL_S", "86400", _int_in(60, 365 * 86400), "How long a stored Idempotency-Key response is replayed."),
    Setting("SCHEDULER_INTERVAL_MS", "1000", _int_in(10, 3_600_000), "Tick of the scheduler (pending timeouts, lot and reward expiry, the idempotency purge, cron jobs)."),
    Setting("SCHEDULER_BATCH_MAX", "500", _int_in(1, 100_000), "Most items one scheduler tick handles per built-in job (and most due cron jobs started per tick)."),
    Setting("SCHEDULER_LEASE_S", "30", _int_in(2, 3600), "Lease of the process running the scheduler, renewed each tick; another process on the same file takes over this long after the holder stops renewing it."),
    Setting("SCHEDULER_TICK_BUDGET_MS", "250", _int_in(10, 60_000), "Time one tick may spend running cron job chunks; the rest waits for the next tick."),
    Setting("JOB_SCAN_MAX", "2000", _int_in(10, 100_000), "Customers one cron job chunk (one writer transaction) looks at."),
    Setting("JOB_EVENTS_MAX", "20", _int_in(1, 10_000), "Events one cron job chunk (one writer transaction) raises at most."),
    Setting("JOB_LATE_S", "60", _int_in(1, 86_400), "A job with catch_up \"skip\" runs an occurrence only if the scheduler reaches it within this many seconds."),
    Setting("HTTP_HEADER_TIMEOUT_S", "10", _int_in(1, 3600), "Seconds a connection may take to send a request's headers, and may stay idle between requests; then it is closed."),
    Setting("HTTP_BODY_TIMEOUT_S", "60", _int_in(1, 3600), "Seconds a client may take to send a whole request body; then the connection is closed."),
    Setting("HTTP_MAX_CONNECTIONS", "1000", _int_in(1, 1_000_000), "Open HTTP connections (idle keep-alive ones included) beyond which a new one gets 503 unavailable and is closed at once."),
    Setting("COOKIE_SECRET", "", _secret, "Key that signs the web pages' cookies and customer portal links (32+ characters). Empty: one is generated on first start and written to data/cookie_secret (0600); changing it signs everyone out and voids every portal link."),
    Setting("CONSOLE_SESSION_S", "28800", _int_in(60, 30 * 86400), "How long a staff console sign-in lasts; the API key is checked again on every page, so a revoked key is out at once."),
    Setting("PORTAL_LINK_TTL_S", "3600", _int_in(60, 30 * 86400), "How long a customer portal link (POST /v1/customers/{id}/portal-link) stays valid."),
    Setting("WEB3_PROVIDER_URL", "", _text, "JSON-RPC URL of an Ethereum node for chain payouts; empty: an in-process dev chain (eth-tester) with a funded payer and a deployed ERC-20, lost at every restart (README, Payouts)."),
    Setting("PAYOUT_PRIVATE_KEY", "", _text, "Hex private key of the payer account on WEB3_PROVIDER_URL's chain (required with it); ignored by the embedded dev chain, which funds its own payer."),
    Setting("CHAIN_ID", "", _optional_int(1, 2**63 - 1), "Chain id every payout transaction is signed for; required with WEB3_PROVIDER_URL and checked against the node before anything is signed."),
    Setting("CHAIN_CONFIRMATIONS", "12", _int_in(1, 10_000), "Blocks (the transaction's own included) before a chain payout is confirmed and its hold posted."),
    Setting("CHAIN_ASSETS", "ETH:9=native:1,USD:2=dev:1,CREDITS:2=dev:1", _parsed(parse_chain_assets), "Ledger assets payable on chain: CODE:SCALE=TOKEN:RATE, TOKEN native (ETH), dev (the embedded ERC-20) or 0xADDRESS@DECIMALS, RATE chain units per ledger unit; refused unless every minor unit converts into whole base units (README, Payouts)."),
    Setting("PAYOUT_LIMITS", "USD=1.00:10000.00:10000.00,CREDITS=1.00:10000.00:10000.00", _parsed(parse_payout_limits), "Payout limits per asset code, for every brand: CODE=MIN:MAX:DAILY in units of the asset (- for none); DAILY caps one customer's payouts in any 24 hours."),
    Setting("PAYOUT_DRAIN_BATCH_MAX", "50", _int_in(1, 10_000), "Most payouts one scheduler tick advances (claims, broadcasts, status checks)."),
    Setting("DEV_CHAIN_TICK_BUDGET_MS", "100", _int_in(1, 60_000), "CPU time one payout drain run may spend in calls to the embedded dev chain, which computes in this process (py-evm) and would otherwise take the CPU from requests; the rest waits for the next tick."),
    Setting("PAYOUT_POLL_INTERVAL_MS", "2000", _int_in(0, 3_600_000), "How long a submitted payout waits before its rail is asked again where it stands."),
    Setting("PAYOUT_RETRY_MAX_MS", "300000", _int_in(0, 86_400_000), "Longest wait between two tries after transient rail errors (the wait doubles from 1 s up to this)."),
    Setting("WALLET_SEED", "", _mnemonic, "BIP-39 mnemonic the funding wallets' deposit addresses derive from (m/44'/60'/0'/0/<index>). Empty: one is generated on first start and written to data/wallet_seed (0600): back it up, it holds the keys of every deposit address; a seed that does not derive the database's existing wallets is refused (no wallet is created with it)."),
    Setting("DEPOSIT_SCAN_BLOCKS_MAX", "500", _int_in(1, 100_000), "Most chain blocks one scheduler tick scans for deposits to the funding wallets."),
    Setting("CIRCLE_API_URL", "https://api-sandbox.circle.com", _text, "Base URL of the Circle API (the circle rail)."),
    Setting("CIRCLE_API_KEY", "", _text, "Circle API key; empty: the circle rail is unavailable."),
    Setting("CIRCLE_SOURCE_WALLET_ID", "", _text, "The Circle wallet USDC payouts are sent from."),
    Setting("STRIPE_API_URL", "https://api.stripe.com", _text, "Base URL of the Stripe API (the stripe rail)."),
    Setting("STRIPE_API_KEY", "", _text, "Stripe secret key; empty: the stripe rail is unavailable."),
)


@dataclass(frozen=True)
class Config:
    host: str
    port: int
    database_path: str
    admin_api_key: str
    sqlite_synchronous: str
    sqlite_busy_timeout_ms: int
    memory_budget_mb: int
    sqlite_wal_autocheckpoint_pages: int
    log_level: str
    writer_queue_max: int
    writer_batch_max: int
    reader_pool_size: int
    max_body_bytes: int
    import_max_bytes: int
    batch_max_transfers: int
    rate_limit_per_s: int
    rate_limit_burst: int
    idempotency_ttl_s: int
    scheduler_interval_ms: int
    scheduler_batch_max: int
    scheduler_lease_s: int
    scheduler_tick_budget_ms: int
    job_scan_max: int
    job_events_max: int
    job_late_s: int
    http_header_timeout_s: int
    http_body_timeout_s: int
    http_max_connections: int
    cookie_secret: str
    console_session_s: int
    portal_link_ttl_s: int
    web3_provider_url: str
    payout_private_key: str
    chain_id: int | None
    chain_confirmations: int
    chain_assets: tuple[ChainAsset, ...]
    payout_limits: tuple[PayoutLimit, ...]
    payout_drain_batch_max: int
    dev_chain_tick_budget_ms: int
    payout_poll_interval_ms: int
    payout_retry_max_ms: int
    wallet_seed: str
    deposit_scan_blocks_max: int
    circle_api_url: str
    circle_api_key: str
    circle_source_wallet_id: str
    stripe_api_url: str
    stripe_api_key: str

    @property
    def data_dir(self) -> str:
        return os.path.dirname(os.path.abspath(self.database_path))


def load_config(environ: Mapping[str, str] | None = None, env_file: str | None = ".env",
                **overrides: object) -> Config:
    """Read settings: explicit `overrides` > `environ` > `.env` file > defaults."""
    file_values = dotenv_values(env_file) if env_file and os.path.exists(env_file) else {}
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for setting in SETTINGS:
        field = setting.name.lower()
        if field in overrides:
            values[field] = overrides[field]
            continue
        raw = environ.get(setting.name, file_values.get(setting.name))
        raw = setting.default if raw is None else raw
        try:
            values[field] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"setting {setting.name}={raw!r} is invalid: {exc}") from None
    assert {f.name for f in fields(Config)} == set(values), "Config and SETTINGS disagree"
    return Config(**values)  # type: ignore[arg-type]


def env_example() -> str:
    """The text of `.env.example`: every setting with its default and meaning."""
    lines = ["# Every setting of the service, with its default. Copy to .env to change one."]
    for s in SETTINGS:
        lines.append(f"# {s.description}")
        lines.append(f"{s.name}={s.default}")
    return "\n".join(lines) + "\n"
