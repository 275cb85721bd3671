"""Rate limits on public forms (Flask-Limiter), keyed so that no address is ever stored.

The per-address key is an HMAC of the client address under a key derived from the secret
key and today's UTC date: the limiter can count one connection's tries within a day, but
its storage (memory or Redis) holds no address and cannot be matched to one across days.

Limits are set so a flood cannot silence tipsters:

- an IPv6 address counts by its /64 (``RATE_LIMIT_IPV6_PREFIX``): one subscriber gets a
  whole /64, so counting /128s lets one client be millions of addresses;
- visitors through the onion service all arrive from the Tor daemon's address, so they share
  a separate, much larger budget (``ONION_TIP_RATE_LIMIT``), sized for many people;
- only accepted submissions count: a form shown again for a mistake (400) or a failed save
  (503) costs nothing;
- tips and answers have separate counters;
- there is no global refusal for tips and answers. Past ``TIP_FLOOD_RATE`` (everyone
  together) a tip is still accepted, but marked "possible flood": it goes to the bottom of
  the queue at low priority and in the queue's "Possible flood" view, where a supervisor sorts
  it. Nothing is hidden; a real tip sent during a flood is still read.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter
from limits import parse
from limits.storage import MemoryStorage

log = logging.getLogger(__name__)


def _day_key(secret_key: str, day: str) -> bytes:
    return hmac.new(
        secret_key.encode(), f"tipline/rate-limit/{day}".encode(), hashlib.sha256
    ).digest()


def address_hash(address: str, secret_key: str, day: str | None = None) -> str:
    """The limiter's key for ``address`` today (``day`` as YYYY-MM-DD, UTC)."""
    day = day or datetime.now(UTC).strftime("%Y-%m-%d")
    digest = hmac.new(_day_key(secret_key, day), address.encode(), hashlib.sha256)
    return "a-" + digest.hexdigest()[:32]


def network_of(address: str, ipv6_prefix: int = 64) -> str:
    """What one client is: an IPv4 address, or the /``ipv6_prefix`` network of an IPv6 one
    (an IPv4-mapped IPv6 address counts as its IPv4 address)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{ipv6_prefix}", strict=False))
    return str(ip)


def is_onion() -> bool:
    """A visit through the onion service (the Host is a .onion name)."""
    return (request.host or "").split(":")[0].lower().endswith(".onion")


def client_key() -> str:
    # The address the server saw. Behind a reverse proxy, PROXY_FIX_X_FOR makes it the
    # proxy's X-Forwarded-For (create_app); this function never reads headers itself.
    if is_onion():
        return "onion"  # every onion visitor arrives from the Tor daemon: one shared budget
    network = network_of(
        request.remote_addr or "unknown", current_app.config.get("RATE_LIMIT_IPV6_PREFIX", 64)
    )
    return address_hash(network, current_app.config["SECRET_KEY"])


def everyone() -> str:
    """One shared bucket: the global limit across all addresses."""
    return "all"


def tip_limit() -> str:
    if is_onion():
        return current_app.config["ONION_TIP_RATE_LIMIT"]
    return current_app.config["TIP_RATE_LIMIT"]


def answer_limit() -> str:
    if is_onion():
        return current_app.config["ONION_ANSWER_RATE_LIMIT"]
    return current_app.config["ANSWER_RATE_LIMIT"]


def tip_global_limit() -> str:
    return current_app.config["TIP_GLOBAL_RATE_LIMIT"]


def receipt_limit() -> str:
    if is_onion():
        return current_app.config["ONION_RECEIPT_RATE_LIMIT"]
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


def accepted(response: Response) -> bool:
    """Count a submission only when it was taken: not a form shown again for a mistake."""
    return response.status_code < 400


def possible_flood() -> bool:
    """Count one tip against everyone's flood rate; True when the rate is passed (the tip is
    then taken and marked, never refused). A storage failure counts as no flood."""
    limiter = limiter_for(current_app)
    try:
        return not limiter.limiter.hit(parse(current_app.config["TIP_FLOOD_RATE"]), "tip-flood")
    except Exception:  # the limiter fails open: a tip is never lost to a dead Redis
        log.warning("the flood counter is unavailable")
        return False


#: POSTs to these endpoints are counted per address hash (and, where a global limit is
#: given, from everyone together). Tip forms share the "tip-post" bucket, answers have their
#: own; neither has a global refusal (see ``possible_flood``).
LIMITED_POSTS: dict[str, tuple[str, Callable[[], str], Callable[[], str] | None]] = {
    "public.tip": ("tip-post", tip_limit, None),
    "public.notice_tip": ("tip-post", tip_limit, None),
    "receipt.answer": ("answer-post", answer_limit, None),
    "receipt.lookup": ("receipt-lookup", receipt_limit, receipt_global_limit),
    # Staff sign-in: on top of the per-account lockout (auth/services.py), one address (or
    # everyone together) trying many accounts is slowed down.
    "account.login": ("staff-login", login_limit, login_global_limit),
    # Payout codes: on top of the per-desk-account lockout (rewards/payout.py).
    "rewards.payout_check": ("payout-code", payout_limit, login_global_limit),
    "rewards.payout_pay": ("payout-code", payout_limit, login_global_limit),
    "receipt.payout_code": ("receipt-lookup", receipt_limit, receipt_global_limit),
}


class SweptMemoryStorage(MemoryStorage):
    """The limits library's in-memory counters (one server without Redis), without its timer
    thread: that storage starts a thread for each count that comes more than 10 ms after the
    last, which is every tip POST, to drop expired keys. Here they are dropped by the
    counting request itself, at most once a second; an expired count already reads as zero
    before it is dropped (``MemoryStorage.get``)."""

    STORAGE_SCHEME = ["tipline-memory"]  # noqa: RUF012 - read by limits' storage registry
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()
        self._next_sweep = 0.0

    # Replaces the base class's private scheduler, which ``incr``, ``decr`` and the moving
    # window call before each change (tests/web/test_abuse.py checks that it still does).
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def retry_after() -> int | None:
    """Seconds until the limit that refused this request lets the next one through."""
    current = limiter_for(current_app).current_limit
    if current is None:
        return None
    return max(1, int(current.reset_at - time.time()))


def limiter_for(app: Flask) -> Limiter:
    return app.extensions["tipline.limiter"]


def init_app(app: Flask) -> None:
    """Give ``app`` its own limiter (its own storage and state) and wrap the limited views.

    Call after the blueprints are registered. One limiter per app, rather than a module
    global, so that apps never share counters or a "storage is down" state.
    """
    uri = app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter = Limiter(
        key_func=client_key,
        default_limits=[],
        storage_uri="tipline-memory://" if uri == "memory://" else None,
    )
    limiter.init_app(app)
    # The limiter also checks every request before its view, for default and app-wide limits;
    # this app has neither (every limit is on a view, below, and is checked when the view is
    # called), so that pass only cost each request, tip form and receipt included, its time.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.extensions["tipline.limiter"] = limiter
    for endpoint, (scope, per_address, everyone_together) in LIMITED_POSTS.items():
        view: Any = app.view_functions[endpoint]
        deduct = accepted if scope in ("tip-post", "answer-post") else None
        view = limiter.shared_limit(per_address, scope, methods=["POST"], deduct_when=deduct)(view)
        if everyone_together is not None:
            view = limiter.shared_limit(
                everyone_together, f"{scope}-all", key_func=everyone, methods=["POST"]
            )(view)
        app.view_functions[endpoint] = view
    for endpoint, (scope, per_address, everyone_together) in LIMITED_READS.items():
        view = app.view_functions[endpoint]
        view = limiter.shared_limit(per_address, scope)(view)
        view = limiter.shared_limit(everyone_together, f"{scope}-all", key_func=everyone)(view)
        app.view_functions[endpoint] = view
