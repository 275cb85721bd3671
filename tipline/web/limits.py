"""Rate limits on public forms (Flask-Limiter), keyed so that no address is ever stored.

The per-address key is an HMAC of the client address under a key derived from the secret
key and today's UTC date: the limiter can count one connection's tries within a day, but
its storage (memory or Redis) holds no address and cannot be matched to one across days.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter


def _day_key(secret_key: str, day: str) -> bytes:
    return hmac.new(
        secret_key.encode(), f"tipline/rate-limit/{day}".encode(), hashlib.sha256
    ).digest()


def address_hash(address: str, secret_key: str, day: str | None = None) -> str:
    """The limiter's key for ``address`` today (``day`` as YYYY-MM-DD, UTC)."""
    day = day or datetime.now(UTC).strftime("%Y-%m-%d")
    digest = hmac.new(_day_key(secret_key, day), address.encode(), hashlib.sha256)
    return "a-" + digest.hexdigest()[:32]


def client_key() -> str:
    # The address the server saw. Behind a reverse proxy, PROXY_FIX_X_FOR makes it the
    # proxy's X-Forwarded-For (create_app); this function never reads headers itself.
    return address_hash(request.remote_addr or "unknown", current_app.config["SECRET_KEY"])


def everyone() -> str:
    """One shared bucket: the global limit across all addresses."""
    return "all"


def tip_limit() -> str:
    return current_app.config["TIP_RATE_LIMIT"]


def tip_global_limit() -> str:
    return current_app.config["TIP_GLOBAL_RATE_LIMIT"]


def receipt_limit() -> str:
    return current_app.config["RECEIPT_RATE_LIMIT"]


def receipt_global_limit() -> str:
    return current_app.config["RECEIPT_GLOBAL_RATE_LIMIT"]


def login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def login_global_limit() -> str:
    return current_app.config["LOGIN_GLOBAL_RATE_LIMIT"]


def audit_log_limit() -> str:
    return current_app.config["AUDIT_LOG_RATE_LIMIT"]


def audit_log_global_limit() -> str:
    return current_app.config["AUDIT_LOG_GLOBAL_RATE_LIMIT"]


#: Requests of any method to these endpoints are counted like the public forms' POSTs: the
#: transparency log's proofs and heads each read the database, whoever asks.
LIMITED_READS: dict[str, tuple[str, Callable[[], str], Callable[[], str]]] = {
    f"log.{name}": ("audit-log", audit_log_limit, audit_log_global_limit)
    for name in (
        "checkpoint",
        "latest",
        "head_history",
        "public_key",
        "consistency",
        "inclusion",
        "witnesses",
        "cosign",
    )
}


def payout_limit() -> str:
    return current_app.config["PAYOUT_RATE_LIMIT"]


#: POSTs to these endpoints are counted, per address hash and from everyone together.
#: Every tip form (and a tipster's later answer) shares the "tip-post" buckets.
LIMITED_POSTS: dict[str, tuple[str, Callable[[], str], Callable[[], str]]] = {
    "public.tip": ("tip-post", tip_limit, tip_global_limit),
    "public.notice_tip": ("tip-post", tip_limit, tip_global_limit),
    "receipt.answer": ("tip-post", tip_limit, tip_global_limit),
    "receipt.lookup": ("receipt-lookup", receipt_limit, receipt_global_limit),
    # Staff sign-in: on top of the per-account lockout (auth/services.py), one address (or
    # everyone together) trying many accounts is slowed down.
    "account.login": ("staff-login", login_limit, login_global_limit),
    # Payout codes: on top of the per-desk-account lockout (rewards/payout.py).
    "rewards.payout_check": ("payout-code", payout_limit, login_global_limit),
    "rewards.payout_pay": ("payout-code", payout_limit, login_global_limit),
    "receipt.payout_code": ("receipt-lookup", receipt_limit, receipt_global_limit),
}


def limiter_for(app: Flask) -> Limiter:
    return app.extensions["tipline.limiter"]


def init_app(app: Flask) -> None:
    """Give ``app`` its own limiter (its own storage and state) and wrap the limited views.

    Call after the blueprints are registered. One limiter per app, rather than a module
    global, so that apps never share counters or a "storage is down" state.
    """
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter = Limiter(key_func=client_key, default_limits=[])
    limiter.init_app(app)
    app.extensions["tipline.limiter"] = limiter
    for endpoint, (scope, per_address, everyone_together) in LIMITED_POSTS.items():
        view: Any = app.view_functions[endpoint]
        view = limiter.shared_limit(per_address, scope, methods=["POST"])(view)
        view = limiter.shared_limit(
            everyone_together, f"{scope}-all", key_func=everyone, methods=["POST"]
        )(view)
        app.view_functions[endpoint] = view
    for endpoint, (scope, per_address, everyone_together) in LIMITED_READS.items():
        view = app.view_functions[endpoint]
        view = limiter.shared_limit(per_address, scope)(view)
        view = limiter.shared_limit(everyone_together, f"{scope}-all", key_func=everyone)(view)
        app.view_functions[endpoint] = view
