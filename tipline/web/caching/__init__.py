"""HTTP caching of public pages that show no tip data: notices, the gallery, feeds, the API.

A view opts in with one line, naming how to read its content version from the database::

    @bp.get("/notices/<slug>")
    @caching.public_page(change_stamps.notice_version)
    def notice(slug): ...

One mechanism a module, each with the measurement that keeps it in docs/performance.md:

* ``versions``: the content version, one prebuilt stamp query outside any transaction;
* ``signals``: the database's change signal (SQLite's ``data_version``, PostgreSQL's
  LISTEN/NOTIFY), which lets ``versions`` skip that query while nothing changed, so a change
  committed through any app server reaches the copies on all of them;
* ``store``: the rendered copies, per (URL, language), least recently used dropped first;
* ``validators``: ETag, Last-Modified, Cache-Control and Vary; 304s without rendering;
* ``pages``: the ``public_page`` decorator that puts those together for a view;
* ``replay``: plain GETs of a kept, current page answered below Flask (``FastPublicPages``);
* ``form_shells``: a notice's blank tip form kept with its two tokens as slots (``filled_form``),
  and a new tip's receipt page with its code's groups as slots (``filled_receipt``).

Pages that show tip data or forms with CSRF tokens (the tip form, the receipt) do not use the
decorator and stay ``no-store``.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event

from .form_shells import CSRF_SLOT, FORM_TOKEN_SLOT, filled_form, filled_receipt
from .pages import public_page
from .replay import FastPublicPages
from .signals import signal_for
from .store import PAGES, RECEIPT_SHELLS, SHELLS, PageStore, store_of
from .validators import release_stamp
from .versions import VERSIONS, VersionReader, remembered_read

__all__ = [
    "CSRF_SLOT",
    "FORM_TOKEN_SLOT",
    "filled_form",
    "filled_receipt",
    "init_app",
    "public_page",
    "remembered_read",
    "store_of",
]


def init_app(app: Flask) -> None:
    release = release_stamp(app)
    app.extensions[PAGES] = PageStore(release, app.config["PAGE_CACHE_ENTRIES"])
    app.extensions[SHELLS] = PageStore(release, app.config["PAGE_CACHE_ENTRIES"])
    app.extensions[RECEIPT_SHELLS] = PageStore(release, 64)  # kinds x languages
    reader = VersionReader(signal_for(app.config["DATABASE_URL"]))
    app.extensions[VERSIONS] = reader
    # The signal's own connection goes with the app's pool: disposing of the engine (at
    # shutdown, and in tests, which build many apps) must not leave it open on the server.
    event.listen(app.extensions["tipline.engine"], "engine_disposed", lambda _e: reader.close())
    app.wsgi_app = FastPublicPages(app, app.wsgi_app)  # type: ignore[method-assign]
