"""Configuration: defaults here, then ``instance/config.py``, then ``TIPLINE_*`` variables.

A mapping passed to ``create_app(config)`` (tests, the demo command) is applied last.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

#: The placeholder that ships in examples; a production server refuses to start with it.
ENV_PREFIX = "TIPLINE_"
DEFAULT_SECRET_KEY = "change-me"  # noqa: S105 - the value we refuse


class Defaults:
    # "production" refuses to start without a real secret key; "development" makes one
    # in the instance folder so `tipline demo` works on a fresh machine.
    ENV = "production"
    SECRET_KEY: str | None = None
    DATABASE_URL: str | None = None  # default: SQLite in the instance folder
    DATABASE_ECHO = False

    AGENCY_NAME = "New Orleans Police Department"
    EMERGENCY_NUMBER = "911"

    # Staff sessions: cookies only over HTTPS outside development; never readable by scripts.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)

    # The audit log (see README, "The audit log"). AUDIT_KEY keys the hash chain; unset, it is
    # derived from SECRET_KEY. The signing key and the checkpoint file default to the
    # instance folder; in production put them where the database's administrators cannot write.
    AUDIT_KEY: str | None = None
    AUDIT_SIGNING_KEY_FILE: str | None = None
    AUDIT_CHECKPOINT_FILE: str | None = None

    # Redis (e.g. redis://127.0.0.1:6379/0): optional; when set, /readyz checks it answers.
    REDIS_URL: str | None = None
    # Rendered public pages each app server keeps in memory (see tipline/web/caching.py).
    PAGE_CACHE_ENTRIES = 512

    WTF_CSRF_TIME_LIMIT = 3600 * 4  # a frightened tipster may take a while to type
    MAX_CONTENT_LENGTH = 1 * 1024 * 1024  # no uploads yet: text forms only
    MIN_PASSWORD_LENGTH = 12


class SecretKeyError(RuntimeError):
    """Raised when a production server would start with a missing or well-known secret key."""


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
    _check_secret_key(app)
    _check_audit_key(app)


def _load_environment(app: Flask) -> None:
    """``TIPLINE_X`` sets ``X``. Values of settings that default to text stay text (a phone
    number such as 911 must not become an integer); others are read as JSON when they parse."""
    for name, raw in sorted(os.environ.items()):
        if not name.startswith(ENV_PREFIX) or name == "TIPLINE_INSTANCE_PATH":
            continue
        key = name.removeprefix(ENV_PREFIX)
        current = app.config.get(key)
        if current is None or isinstance(current, str):
            app.config[key] = raw
            continue
        try:
            app.config[key] = json.loads(raw)
        except ValueError:
            app.config[key] = raw


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


def _instance_secret_key(instance_path: str) -> str:
    """Read the development key from the instance folder, creating it on first use."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
