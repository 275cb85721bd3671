"""Configuration: defaults here, then ``instance/config.py``, then ``TIPLINE_*`` variables.

A mapping passed to ``create_app(config)`` (tests, the demo command) is applied last. Every
setting is an attribute of ``Defaults``, with the comment above it as its description;
docs/configuration.md is checked against this class by a test. The whole application reads
settings from ``app.config`` only, never from the environment.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import os
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

#: The placeholder that ships in examples; a production server refuses to start with it.
ENV_PREFIX = "TIPLINE_"
# The example value, refused at start-up (not a credential).
DEFAULT_SECRET_KEY = "change-me"  # noqa: S105  # nosec B105


class Defaults:
    # "production" refuses to start without a real secret key; "development" makes one
    # in the instance folder so `tipline demo` works on a fresh machine.
    ENV = "production"
    SECRET_KEY: str | None = None
    DATABASE_URL: str | None = None  # default: SQLite in the instance folder
    DATABASE_ECHO = False
    # Bounded waits, in seconds, all shorter than gunicorn's 30 s worker timeout: a request
    # that meets an unreachable database, a held lock or a stuck statement gets the "not
    # saved" page with its text, not a killed worker (docs/operations.md, "Timeouts").
    # PostgreSQL: connecting, one statement, waiting for a lock, waiting for a pooled
    # connection. SQLite: how long a writer waits for the write lock.
    DATABASE_CONNECT_TIMEOUT = 5
    DATABASE_STATEMENT_TIMEOUT = 15
    DATABASE_LOCK_TIMEOUT = 8
    DATABASE_POOL_TIMEOUT = 10
    DATABASE_BUSY_TIMEOUT = 10
    # A web request on a sync worker still waiting on PostgreSQL this long has the waiting
    # connections cut (a server that is there but frozen answers no timeout): between the
    # statement timeout and the worker timeout. 0 switches it off.
    DATABASE_REQUEST_DEADLINE = 20

    AGENCY_NAME = "New Orleans Police Department"
    # The agency's time zone (an IANA name): staff pages and case files show times in it.
    AGENCY_TIME_ZONE = "America/Chicago"
    EMERGENCY_NUMBER = "911"
    # Where the public reaches the site, e.g. "https://tips.example.org", for absolute URLs in
    # feeds, the API, CAP messages and posters when a proxy hides the real host. None: the
    # request's own host.
    PUBLIC_BASE_URL: str | None = None

    # Session cookies: only over HTTPS outside development, and then named "__Host-tipline"
    # (the browser refuses it from plain HTTP, from another path or from a subdomain);
    # never readable by scripts. The cookie only carries a token the server checks.
    SESSION_COOKIE_NAME: str | None = None  # default: "__Host-tipline", or "tipline" if not Secure
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # Staff sessions end after this long without a request, and this long after sign-in.
    STAFF_SESSION_IDLE_SECONDS = 30 * 60
    STAFF_SESSION_MAX_SECONDS = 12 * 3600
    # The sixth failed sign-in within a minute locks that username for 15 minutes.
    LOGIN_MAX_FAILURES = 5
    LOGIN_FAILURE_WINDOW_SECONDS = 60
    LOGIN_LOCKOUT_SECONDS = 15 * 60
    # The name shown in authenticator apps next to the account.
    TOTP_ISSUER = "Tipline"

    # The audit log (see docs/audit.md). AUDIT_KEY keys the hash chain; unset, it is
    # derived from SECRET_KEY. The signing key and the checkpoint file default to the
    # instance folder; in production put them where the database's administrators cannot write.
    AUDIT_KEY: str | None = None
    AUDIT_SIGNING_KEY_FILE: str | None = None
    AUDIT_CHECKPOINT_FILE: str | None = None
    # The transparency log over the audit events (docs/audit.md): the name on its signed tree
    # heads (default: the host of PUBLIC_BASE_URL + "/audit-log"; never change it once heads
    # are published), and the verifier keys of the witnesses whose co-signatures it accepts.
    AUDIT_LOG_ORIGIN: str | None = None
    AUDIT_WITNESS_KEYS: list[str] = []  # noqa: RUF012 - JSON list of verifier keys
    # Public proof and head requests per address (they are cheap, but each reads the database).
    AUDIT_LOG_RATE_LIMIT = "120 per minute"
    AUDIT_LOG_GLOBAL_RATE_LIMIT = "3000 per minute"

    # Seconds a request waits for Redis to accept a connection and to answer one command.
    # Short: the rate limiter counts in memory while Redis does not answer (fail-open, see
    # docs/operations.md), so a stalled Redis costs a tip this long once, not every worker.
    REDIS_CONNECT_TIMEOUT = 0.5
    REDIS_SOCKET_TIMEOUT = 0.5
    # Seconds /readyz waits for each answer (database, Redis) before calling it missing.
    READY_TIMEOUT = 3.0
    # Rendered public pages each app server keeps in memory (see docs/performance.md).
    PAGE_CACHE_ENTRIES = 512

    WTF_CSRF_TIME_LIMIT = 3600 * 4  # a frightened tipster may take a while to type
    # Flask-WTF's own HTTPS check reads only Referer, which the shipped nginx removes;
    # tipline/web/csrf.py checks Origin first and falls back to Referer instead.
    WTF_CSRF_SSL_STRICT = False

    # Encryption at rest of tip photos and volunteered contact details: base64 of 32 random
    # bytes, never stored in the database. Production refuses to start without it.
    DATA_KEY: str | None = None
    # The secret receipt codes are hashed under (default: SECRET_KEY). Set it to the current
    # SECRET_KEY before rotating that, or every receipt code given out stops working.
    RECEIPT_SECRET: str | None = None

    # Tip photos: how many per tip (and per later answer), and the limits on each one.
    MAX_TIP_PHOTOS = 3
    PHOTO_MAX_BYTES = 8 * 1024 * 1024
    # Tip photos: 16 megapixels (a phone's 12 MP photo fits); a larger one is refused from its
    # header before any decoding. Decoded memory is at most 4 bytes a pixel (64 MB), once.
    PHOTO_MAX_PIXELS = 16_000_000
    PHOTO_MAX_SIDE = 3000  # photos are stored at most this many pixels on the longest side
    # Request bodies: 1 MB for text forms. The tip forms accept MAX_TIP_PHOTOS photos at their
    # limit plus the text, and the PIO's photo upload NOTICE_PHOTO_MAX_BYTES (web/uploads.py).
    # Larger requests get a plain 413 page.
    MAX_CONTENT_LENGTH = 1024 * 1024

    # A receipt code opens a short session on /receipt; "Leave" ends it sooner.
    RECEIPT_SESSION_MINUTES = 20
    # A repeated submit of the same tip form (double click, refresh) shows the same receipt
    # code for this long; after it, a plain "already received" page.
    TIP_REPLAY_MINUTES = 30

    # Rate limits (Flask-Limiter syntax). Per-address limits key on a keyed hash of the
    # address under a key that changes every UTC day; no address is ever stored.
    # Redis (e.g. redis://127.0.0.1:6379/0), optional: rate-limit counters and the task queue
    # live there when set (per-process memory and SQLite otherwise); /readyz checks it answers.
    REDIS_URL: str | None = None
    # How many proxies in front set X-Forwarded-For (1 behind the shipped nginx). 0 trusts
    # none: then every visitor behind a proxy shares the proxy's address, and its limits.
    PROXY_FIX_X_FOR = 0
    TIP_RATE_LIMIT = "10 per 10 minutes; 40 per day"
    TIP_GLOBAL_RATE_LIMIT = "600 per minute"  # kept for old settings; tips use TIP_FLOOD_RATE
    # Past this rate (everyone together) tips are still taken, marked "possible flood".
    TIP_FLOOD_RATE = "120 per minute"
    ANSWER_RATE_LIMIT = "20 per 10 minutes; 100 per day"
    # Every onion visitor arrives from the Tor daemon's address: a budget for many people.
    ONION_TIP_RATE_LIMIT = "300 per 10 minutes; 2000 per day"
    ONION_ANSWER_RATE_LIMIT = "300 per 10 minutes; 2000 per day"
    ONION_RECEIPT_RATE_LIMIT = "300 per 10 minutes; 3000 per day"
    RATE_LIMIT_IPV6_PREFIX = 64
    RECEIPT_RATE_LIMIT = "10 per 10 minutes; 50 per day"
    RECEIPT_GLOBAL_RATE_LIMIT = "1200 per minute"
    # Staff sign-in attempts (each account also locks after LOGIN_MAX_FAILURES failures).
    LOGIN_RATE_LIMIT = "60 per minute"  # a whole station behind one NAT signs in at shift change
    LOGIN_GLOBAL_RATE_LIMIT = "600 per minute"
    RATELIMIT_KEY_PREFIX = "tipline-rl"
    RATELIMIT_STRATEGY = "fixed-window"
    # Off: RateLimit-* headers cost two storage reads per limited request (Redis round trips)
    # and told a successful tip to retry after 60 s. A refused form still gets Retry-After.
    RATELIMIT_HEADERS_ENABLED = False
    # If Redis goes away, count in memory instead and never refuse a tip because of it.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    MIN_PASSWORD_LENGTH = 12

    # Notice photos: the upload limit (PIO screens only; public forms keep the limit above)
    # and the pixel limit that stops decompression bombs.
    NOTICE_PHOTO_MAX_BYTES = 10 * 1024 * 1024
    NOTICE_PHOTO_MAX_PIXELS = 40_000_000
    # Days after a notice is resolved before its photos and personal details come down.
    NOTICE_DETAILS_RETENTION_DAYS = 30
    # --- Triage and background jobs ---
    # Minutes from receipt to due, per priority; a "there right now" tip is urgent.
    TRIAGE_DUE_MINUTES: dict[str, int] = {}  # noqa: RUF012 - overrides triage.intake defaults
    QUEUE_PAGE_SIZE = 50
    HUEY_IMMEDIATE = False  # run tasks in-process: unit tests of task bodies only
    SMTP_HOST = "localhost"
    SMTP_PORT = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS = False
    MAIL_FROM = "tipline@localhost"
    # Where the links in staff e-mails point (no tip content is ever put in an e-mail).
    STAFF_BASE_URL = "http://127.0.0.1:5000"
    # --- No tip silently dropped ---
    # Share (0 to 1) of non-urgent "no action" closures put on the supervisors' review list,
    # picked by a keyed hash of the tip (reproducible, not predictable without SECRET_KEY).
    NO_ACTION_REVIEW_SAMPLE = 0.2
    # A claim nobody worked for this long goes back to the queue (audited "tip.claim_expired").
    STALE_CLAIM_MINUTES = 8 * 60
    # Days after a tip is closed before retention empties it (a tombstone stays).
    TIP_RETENTION_DAYS = 365
    # Who gets the overdue-tip e-mail (a link only), e.g. '["duty-sgt@example.org"]' in
    # TIPLINE_SUPERVISOR_EMAILS. Empty: escalations show on /staff/oversight only.
    SUPERVISOR_EMAILS: list[str] = []  # noqa: RUF012
    # Seconds one outbox delivery run sends for before it queues the next run behind any
    # periodic job that came in meanwhile (docs/operations.md, "The outbox").
    OUTBOX_RUN_SECONDS = 20
    # --- Crime Stoppers rewards (docs/rewards.md) ---
    # A coordinator proposes a whole amount between these, in this ISO 4217 currency.
    REWARD_MIN_AMOUNT = 100
    REWARD_MAX_AMOUNT = 2500
    REWARD_CURRENCY = "USD"
    # Whether the tipster's receipt page states the approved amount.
    REWARD_SHOW_AMOUNT = True
    # How to collect, per language (en, es, vi), shown with the payout code. A language
    # without its own text gets the English one.
    REWARD_PAYOUT_INSTRUCTIONS: dict[str, str] = {  # noqa: RUF012
        "en": "Bring your payout code to the payout desk. Nobody will ask your name.",
        "es": "Lleve su código de cobro a la ventanilla de pagos. Nadie le pedirá su nombre.",
        "vi": "Xin mang mã nhận tiền đến quầy trả tiền. Không ai hỏi tên quý vị.",
    }
    # Days from approval until an unclaimed reward expires and its payout code stops working.
    REWARD_CODE_VALID_DAYS = 60
    # Wrong payout codes: the sixth within the window locks that desk account's checks.
    PAYOUT_MAX_FAILURES = 5
    PAYOUT_FAILURE_WINDOW_SECONDS = 10 * 60
    PAYOUT_LOCKOUT_SECONDS = 15 * 60
    PAYOUT_RATE_LIMIT = "30 per minute"


#: Variables with the TIPLINE_ prefix that are not settings: read before the configuration
#: exists (the instance folder), by gunicorn's settings file, or by the tests.
NOT_SETTINGS = frozenset(
    {
        "INSTANCE_PATH",
        "BIND",
        "WORKERS",
        "TEST_DATABASE_URL",
        "TEST_REDIS_URL",
        "REQUIRE_REDIS",
        "FUZZ_EXAMPLES",
    }
)


def is_text(name: str) -> bool:
    """Whether setting ``name`` takes its environment value as text (a phone number such as
    911 stays text), rather than as JSON (numbers, true/false, lists, mappings)."""
    annotation = Defaults.__annotations__.get(name)
    if annotation is not None:
        return str(annotation).startswith("str")
    return isinstance(getattr(Defaults, name), str)


def settings() -> list[str]:
    """Every setting's name, in the order ``Defaults`` declares them."""
    return [name for name in vars(Defaults) if name.isupper()]


class ConfigError(RuntimeError):
    """A TIPLINE_ variable that names no setting, or whose value is not of the setting's type."""


class SecretKeyError(RuntimeError):
    """Raised when a production server would start with a missing or well-known secret key."""


class DataKeyError(SecretKeyError):
    """Raised when the server would start without a usable data-encryption key."""


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Apply defaults, the instance file, ``TIPLINE_*`` variables, then ``overrides``."""
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    _load_environment(app)
    if overrides:
        app.config.from_mapping(overrides)

    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'tipline.sqlite3'}"
    instance = Path(app.instance_path)
    if not app.config["AUDIT_SIGNING_KEY_FILE"]:
        app.config["AUDIT_SIGNING_KEY_FILE"] = str(instance / "audit-signing-key.pem")
    if not app.config["AUDIT_CHECKPOINT_FILE"]:
        app.config["AUDIT_CHECKPOINT_FILE"] = str(instance / "audit-checkpoints.jsonl")
    if app.config["ENV"] == "development":
        app.config["SESSION_COOKIE_SECURE"] = False
        if not app.config["SECRET_KEY"]:
            app.config["SECRET_KEY"] = _instance_secret_key(app.instance_path)
        if not app.config["DATA_KEY"]:
            app.config["DATA_KEY"] = _instance_secret_key(
                app.instance_path, "data_key", lambda: base64.b64encode(secrets.token_bytes(32))
            )
    if not app.config["SESSION_COOKIE_NAME"]:
        secure = app.config["SESSION_COOKIE_SECURE"]
        app.config["SESSION_COOKIE_NAME"] = "__Host-tipline" if secure else "tipline"
    _check_secret_key(app)
    _check_audit_key(app)
    _check_data_key(app)
    if app.config["REDIS_URL"] and not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config["REDIS_URL"]
    if str(app.config.get("RATELIMIT_STORAGE_URI") or "").startswith("redis"):
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS",
            {
                "socket_connect_timeout": float(app.config["REDIS_CONNECT_TIMEOUT"]),
                "socket_timeout": float(app.config["REDIS_SOCKET_TIMEOUT"]),
            },
        )


def _load_environment(app: Flask) -> None:
    """``TIPLINE_X`` sets ``X``: as text for text settings, as JSON for the others. An unknown
    name or a value of the wrong type stops the start with a sentence naming the variable."""
    known = set(settings())
    for name, raw in sorted(os.environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        key = name.removeprefix(ENV_PREFIX)
        if key in NOT_SETTINGS:
            continue
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {ENV_PREFIX}{close[0]}?" if close else ""
            raise ConfigError(
                f"Tipline will not start: {name} is not a setting.{hint} "
                "The settings are listed in docs/configuration.md."
            )
        app.config[key] = raw if is_text(key) else _json_value(name, raw, getattr(Defaults, key))


def _json_value(name: str, raw: str, default: object) -> object:
    """``raw`` read as JSON, of the kind ``default`` is (a number may stand for a duration)."""
    if isinstance(default, bool):
        kinds: tuple[type, ...] = (bool,)
        wanted = "true or false"
    elif isinstance(default, int):
        kinds, wanted = (int,), "a whole number"
    elif isinstance(default, float):
        kinds, wanted = (int, float), "a number"
    elif isinstance(default, timedelta):
        kinds, wanted = (int,), "a whole number of seconds"
    elif isinstance(default, list | dict):
        kinds, wanted = (
            (type(default),),
            f"a JSON {'list' if isinstance(default, list) else 'object'}",
        )
    else:
        kinds, wanted = (object,), "JSON"
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    ok = value is not None and isinstance(value, kinds)
    if ok and bool not in kinds and isinstance(value, bool):
        ok = False  # true is not a number
    if not ok:
        raise ConfigError(f"Tipline will not start: {name} must be {wanted}, not {raw!r}.")
    return value


def _check_secret_key(app: Flask) -> None:
    key = app.config.get("SECRET_KEY")
    if not key or key == DEFAULT_SECRET_KEY or len(str(key)) < 32:
        raise SecretKeyError(
            "Tipline will not start: TIPLINE_SECRET_KEY is missing, too short or the example "
            "value. Set it to a long random string, for example the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`, in the "
            "environment or in instance/config.py. (`tipline demo` makes one for you.)"
        )


def _check_audit_key(app: Flask) -> None:
    key = app.config.get("AUDIT_KEY")
    if key is not None and len(str(key)) < 32:
        raise SecretKeyError(
            "Tipline will not start: TIPLINE_AUDIT_KEY is shorter than 32 characters. Set it "
            "to a long random string, or leave it unset to derive it from the secret key."
        )


def data_key_bytes(value: str | bytes | None) -> bytes:
    """The 32-byte data key from its base64 form; DataKeyError for anything else."""
    try:
        key = base64.b64decode(value or b"", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise DataKeyError(
            "Tipline will not start: TIPLINE_DATA_KEY is missing or is not 32 random bytes in "
            "base64. It encrypts tip photos and tipsters' contact details. Make one with "
            "`python3 -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32))"
            ".decode())'` and keep it outside the database (and in your backups of keys: without "
            "it, encrypted photos and contact details cannot be read). (`tipline demo` makes one.)"
        )
    return key


def _check_data_key(app: Flask) -> None:
    data_key_bytes(app.config.get("DATA_KEY"))


def _instance_secret_key(
    instance_path: str,
    name: str = "secret_key",
    make: Callable[[], str | bytes] = lambda: secrets.token_urlsafe(48),
) -> str:
    """Read a development key from the instance folder, creating it on first use."""
    path = Path(instance_path) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    made = make()
    key = made.decode() if isinstance(made, bytes) else made
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
