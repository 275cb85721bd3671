"""Rate limits on public forms (Flask-Limiter), keyed so that no address is ever stored.

The per-address key is an HMAC of the client address under a key derived from the secret
key and today's UTC date: the limiter can count one connection's tries within a day, but
its storage (memory or Redis) holds no address and cannot be matched to one across days.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

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
    # The address the server saw. Behind a reverse proxy, configure the proxy (or Werkzeug's
    # ProxyFix) to set it; X-Forwarded-For is never read here.
    return address_hash(request.remote_addr or "unknown", current_app.secret_key)


def everyone() -> str:
    """One shared bucket: the global limit across all addresses."""
    return "all"


limiter = Limiter(key_func=client_key, default_limits=[])


def tip_limit() -> str:
    return current_app.config["TIP_RATE_LIMIT"]


def tip_global_limit() -> str:
    return current_app.config["TIP_GLOBAL_RATE_LIMIT"]


def receipt_limit() -> str:
    return current_app.config["RECEIPT_RATE_LIMIT"]


def receipt_global_limit() -> str:
    return current_app.config["RECEIPT_GLOBAL_RATE_LIMIT"]


def tip_posts(view):  # type: ignore[no-untyped-def]
    """Throttle POSTs of every tip form together, per address hash and globally."""
    view = limiter.shared_limit(tip_limit, "tip-post", methods=["POST"])(view)
    return limiter.shared_limit(
        tip_global_limit, "tip-post-all", key_func=everyone, methods=["POST"]
    )(view)


def receipt_posts(view):  # type: ignore[no-untyped-def]
    """Throttle receipt-code lookups, per address hash and globally."""
    view = limiter.shared_limit(receipt_limit, "receipt-lookup", methods=["POST"])(view)
    return limiter.shared_limit(
        receipt_global_limit, "receipt-lookup-all", key_func=everyone, methods=["POST"]
    )(view)


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)
