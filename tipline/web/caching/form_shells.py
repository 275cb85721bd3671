"""Form shells: a notice's blank tip form, rendered once per (URL, language, content version)
with its CSRF token and form token left as slots, and filled with fresh tokens for each
visitor who has no session yet. Sent ``no-store`` like any form; kept in memory only, apart
from the public pages (``store.SHELLS``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from . import store, validators
from .versions import versions_of

#: Stand-ins for the per-request tokens in a kept form page. Letters and hex digits: the
#: template's escaping leaves them as they are. Random per process, so a notice field or a
#: query string cannot carry one into the page (that once broke the shell).
CSRF_SLOT = "tiplinecsrfslot" + secrets.token_hex(12)
FORM_TOKEN_SLOT = "tiplineformtokenslot" + secrets.token_hex(12)
#: What a token may be to go into the page unescaped: itsdangerous and token_urlsafe output.
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]+\Z")


def token_bytes(token: str) -> bytes:
    if not _TOKEN.match(token):
        raise ValueError("a form token outside [A-Za-z0-9_.-]")
    return token.encode()


def filled_form(
    version_of: store.VersionOf,
    view_args: dict[str, Any],
    render_shell: Callable[[], str],
    form_token: str,
) -> Response | None:
    """A public form page for a visitor with no session yet, from a copy kept per (URL,
    language, content version) with its two per-request values left as slots.

    Most of a tip form's cost is rendering a page that is the same for every visitor but for
    its CSRF token and form token. ``render_shell`` renders it once with ``CSRF_SLOT`` and
    ``FORM_TOKEN_SLOT`` in their place; each request then gets a fresh CSRF token (Flask-WTF's
    ``generate_csrf``, which also starts the session that carries it) and ``form_token``. None
    when ``version_of`` says the content is not public: the caller answers as it would.
    A request with a session is never answered from here (its page may hold a message).
    """
    if store.carries_session():
        return None
    version = versions_of(current_app).read(version_of, view_args)
    if version is None:
        return None
    shells = store.store_of(current_app, store.SHELLS)
    language = store.request_language()
    key = store.page_key(request.environ, language)
    etag = validators.etag(shells.release, language, version)
    page = shells.get(key, etag)
    if page is None:
        body = render_shell().encode()
        if body.count(CSRF_SLOT.encode()) != 1 or body.count(FORM_TOKEN_SLOT.encode()) != 1:
            return None  # not a shell we can fill: the caller renders the page as usual
        page = store.StoredPage(etag, body, "text/html; charset=utf-8")
        shells.put(key, page)
    body = page.body.replace(CSRF_SLOT.encode(), token_bytes(generate_csrf()), 1)
    body = body.replace(FORM_TOKEN_SLOT.encode(), token_bytes(form_token), 1)
    return Response(body, content_type=page.content_type)


#: Stand-ins for the five groups of a receipt code in a kept receipt page (``filled_receipt``).
CODE_SLOTS = tuple(f"tiplinecodeslot{n}x{secrets.token_hex(8)}" for n in range(5))


def filled_receipt(kind: str, render_shell: Callable[[str], str], code: str) -> bytes | None:
    """The receipt page of a newly received tip, from a copy kept per ``kind`` (what else
    the page depends on: a notice or not, "there right now" or not) and language, with the
    receipt code's groups left as slots.

    ``render_shell(code)`` renders the page for a stand-in code once; each tip then gets its
    own code written in. None when the code or the page does not fit (the caller renders as
    usual). Never for a page showing flashed messages (the caller checks).
    """
    groups = code.split("-")
    if len(groups) != len(CODE_SLOTS) or not all(_TOKEN.match(group) for group in groups):
        return None
    kept: store.PageStore = current_app.extensions[store.RECEIPT_SHELLS]
    key = (f"{request.script_root}|{kind}", store.request_language())
    page = kept.get(key, kept.release)
    if page is None:
        body = render_shell("-".join(CODE_SLOTS)).encode()
        if any(body.count(slot.encode()) != 1 for slot in CODE_SLOTS):
            return None
        page = store.StoredPage(kept.release, body, "text/html; charset=utf-8")
        kept.put(key, page)
    body = page.body
    for slot, group in zip(CODE_SLOTS, groups, strict=True):
        body = body.replace(slot.encode(), group.encode(), 1)
    return body
