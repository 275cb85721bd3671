"""Cross-site request forgery: Flask-WTF's token, plus a same-origin check that reads the
``Origin`` header first.

Flask-WTF's strict HTTPS check wants a same-origin ``Referer`` on every POST. The shipped
nginx removes ``Referer`` before it reaches the app (a full address, which can name the page of
another site a tipster came from), so with that check no form could be sent in production.
``Origin`` carries only the scheme, host and port; browsers send it on every form POST and
nginx passes it on. So: a POST whose ``Origin`` is another site (or ``null``) is refused on
any scheme; without ``Origin``, an HTTPS POST needs a same-origin ``Referer`` as before, and a
plain-HTTP one (the onion service) rests on the token alone, as it always did."""

from __future__ import annotations

from flask import Flask, g, request
from flask_wtf.csrf import CSRFError, CSRFProtect, same_origin

csrf = CSRFProtect()


def cross_origin_problem() -> str | None:
    """Why this unsafe request does not come from our own pages, or None when it does."""
    own = request.host_url.rstrip("/")
    origin = request.headers.get("Origin")
    if origin is not None:
        return None if origin == own else "The origin does not match the host."
    if not request.is_secure:
        return None
    if not request.referrer:
        return "Neither an origin nor a referrer was sent."
    if not same_origin(request.referrer, own + "/"):
        return "The referrer does not match the host."
    return None


def check_origin() -> None:
    """After Flask-WTF's token check: ``g.csrf_valid`` marks a request it checked (an unsafe
    method on a view that is not exempt), which must also come from our own origin."""
    if g.get("csrf_valid"):
        problem = cross_origin_problem()
        if problem is not None:
            raise CSRFError(problem)


def init_app(app: Flask) -> None:
    """Flask-WTF's protection with its referrer-only HTTPS check (``WTF_CSRF_SSL_STRICT``,
    off in the defaults) replaced by ``check_origin``, which runs right after it."""
    csrf.init_app(app)
    app.before_request(check_origin)
