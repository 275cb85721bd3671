"""When the database cannot be reached, or does not answer within its timeouts.

A tipster is never shown a generic error with their words thrown away:

* a tip POST gets the tip form's own "not saved" page (503, ``Retry-After``) in their
  language with what they typed still in it, and an answer POST the answer form the same way;
* staff are treated the same: a call-taker's call comes back in the "Log a call" form as
  typed, and any other staff form's text comes back on a "not saved" page that sends it again
  (sign-in and password forms excepted: secrets are never written back into a page);
* the tip form still opens, from what this process already holds (the notice's name and its
  contact lines, remembered each time the form is drawn), and says tips cannot be saved now;
* public pages (``caching.public_page``) serve their last good copy from memory;
* every other page gets a plain 503 page; none of these pages reads the database.

The errors that count: SQLAlchemy's ``OperationalError`` (refused or lost connection, connect
timeout, statement or lock timeout, SQLite busy or disk full), ``InterfaceError`` and the
pool's ``TimeoutError``. The session that met one is dropped without another round trip.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import exc
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from tipline import db
from tipline.auth import drafts
from tipline.calls.forms import CallForm
from tipline.notices import services as notices
from tipline.notices.models import in_language
from tipline.tips.fields import TIP_FIELDS
from tipline.tips.forms import TOKEN_PATTERN, AnswerForm, TipForm, new_form_token
from tipline.web.api import error_response
from tipline.web.policy import page_to_return_to

log = logging.getLogger(__name__)

#: Errors that mean "the database is not there right now", not "this request is wrong".
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
)
#: Seconds a visitor is asked to wait before sending again (the ``Retry-After`` header).
RETRY_AFTER = 60
#: For this long after meeting an outage, this process draws tip forms with the notice that
#: tips cannot be saved right now, even when it needs no query to draw them.
OUTAGE_MEMORY_SECONDS = 15.0
#: Notices whose tip form this process remembers (name and contact lines), newest kept.
MAX_REMEMBERED = 256

TIP_ENDPOINTS = frozenset({"public.tip", "public.notice_tip"})
#: Staff forms that carry a password or a one-time code: their "not saved" page is the plain
#: 503, since what was typed there is a secret and is never written back into a page.
SECRET_FORMS = frozenset({"account.login", "account.enrol", "account.password"})
#: Hidden fields a staff form is sent again with as they came (the CSRF token is still good
#: for this browser's session; the form token keeps a second send from making a second tip).
CARRIED_FIELDS = ("csrf_token", "form_token", drafts.TICKET_FIELD)
UNAVAILABLE = (
    _l("We cannot reach our records right now"),
    _l(
        "Nothing was saved. Please try again in a few minutes, or phone one of the numbers on "
        "the notice. If someone is in danger, call the emergency number below."
    ),
)


def is_outage(error: BaseException) -> bool:
    return isinstance(error, OUTAGE_ERRORS)


@dataclass(frozen=True)
class KeptLine:
    """A contact line as the tip form prints it, kept apart from any database session."""

    label: str
    phone: str
    note: str
    tel_uri: str
    # Kept as (language, text) pairs: the dataclass is frozen and hashable.
    note_translations: tuple[tuple[str, str], ...] = ()

    def note_in(self, language: str) -> tuple[str, str | None]:
        return in_language(self.note, dict(self.note_translations).get(language, ""), language)


@dataclass(frozen=True)
class KeptNotice:
    """What the tip form of a notice prints about it."""

    slug: str
    subject_name: str


class FormMemory:
    """The last contact lines and notice names this process drew a tip form with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: OrderedDict[str | None, tuple[KeptLine, ...]] = OrderedDict()
        self._notices: dict[str, KeptNotice] = {}
        self._outage_seen = -OUTAGE_MEMORY_SECONDS

    def outage_seen(self) -> None:
        self._outage_seen = time.monotonic()

    def outage_recent(self) -> bool:
        return time.monotonic() - self._outage_seen < OUTAGE_MEMORY_SECONDS

    def remember(self, notice: Any, lines: list[Any]) -> None:
        slug = getattr(notice, "slug", None)
        kept = tuple(
            KeptLine(
                x.label,
                x.phone,
                x.note,
                x.tel_uri,
                tuple(sorted((x.note_translations or {}).items())),
            )
            for x in lines
        )
        with self._lock:
            self._lines[slug] = kept
            self._lines.move_to_end(slug)
            if slug is not None:
                self._notices[slug] = KeptNotice(slug, notice.subject_name)
            while len(self._lines) > MAX_REMEMBERED:
                gone, _ = self._lines.popitem(last=False)
                self._notices.pop(gone, None)  # type: ignore[arg-type]

    def lines(self, slug: str | None) -> list[KeptLine]:
        with self._lock:
            found = self._lines.get(slug)
            if found is None:
                found = self._lines.get(None, ())  # the agency's defaults, if ever drawn
            return list(found)

    def notice(self, slug: str | None) -> KeptNotice | None:
        with self._lock:
            return self._notices.get(slug) if slug else None


def memory() -> FormMemory:
    return current_app.extensions["tipline.form_memory"]


def tip_form_context(notice: Any) -> tuple[Any, list[Any]]:
    """The notice and contact lines a tip form prints: read and remembered, or, when the
    database does not answer, what this process last drew the form with (the notice object
    is then detached and expired, so its remembered name stands in for it)."""
    try:
        lines = notices.contact_lines_for(db.session(), notice)
    except OUTAGE_ERRORS:
        slug = _slug_of(notice)
        drop_session()
        memory().outage_seen()
        return memory().notice(slug), memory().lines(slug)
    memory().remember(notice, lines)
    return notice, lines


def _slug_of(notice: Any) -> str | None:
    """The notice's slug without a query: after a failed transaction its attributes are
    expired, and reading one would go back to the database that just failed."""
    if notice is None:
        return None
    return vars(notice).get("slug") or (request.view_args or {}).get("slug")


def recently_unavailable() -> bool:
    """Whether this process met a database outage in the last few seconds."""
    return memory().outage_recent()


def drop_session() -> None:
    """Forget this request's session; closing it may itself fail on a dead connection."""
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except Exception:  # the connection is gone; the pool discards it
        log.debug("closing a session after a database outage failed", exc_info=True)


def unavailable(response: Response) -> Response:
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response


def _photos_were_sent() -> bool:
    return any(f.filename for f in request.files.getlist("photos"))


def tip_form_page() -> Response:
    """The tip form drawn from memory alone: a POST's "not saved" page with what was typed
    (503), or for a GET the blank form saying tips cannot be saved right now."""
    form = TipForm()
    posted = request.method == "POST"
    if not posted or not form.form_token.data:
        form.form_token.data = new_form_token()
    if posted and _photos_were_sent():
        form.photos.errors = [_l("Please choose the photos again.")]
    slug = (request.view_args or {}).get("slug")
    page = render_template(
        "public/tip_form.html",
        form=form,
        notice=memory().notice(slug),
        contact_lines=memory().lines(slug),
        save_failed=posted,
        outage=not posted,
        honeypot=False,
        max_photos=current_app.config["MAX_TIP_PHOTOS"],
    )
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return unavailable(response) if posted else response


def _answer_page() -> Response:
    form = AnswerForm()
    if _photos_were_sent():
        form.photos.errors = [_l("Please choose the photos again.")]
    page = render_template(
        "public/answer_not_saved.html",
        form=form,
        max_photos=current_app.config["MAX_TIP_PHOTOS"],
    )
    return unavailable(make_response(page))


def _call_page() -> Response:
    """The call-taker's form as it was sent, saying the call was not saved (503). The notice
    list cannot be read: the chosen notice stays chosen, by its remembered name if any."""
    form = CallForm()
    chosen = form.notice.data or ""
    choices = [SelectChoice("", "None / not sure")]
    if chosen:
        known = memory().notice(chosen)
        choices.append(SelectChoice(chosen, known.subject_name if known else chosen))
    form.notice.choices = choices
    if not re.fullmatch(TOKEN_PATTERN, form.form_token.data or ""):
        form.form_token.data = new_form_token()
    page = render_template(
        "calltaker/new_call.html", form=form, save_failed=True, outage=True, tip_fields=TIP_FIELDS
    )
    return unavailable(make_response(page))


def _staff_page() -> Response:
    """Any other staff form: what was typed, in boxes that send it again to the same address
    (503). The page the form was on needs the database, so it cannot be drawn again here."""
    kept: list[tuple[str, str]] = []
    carried: list[tuple[str, str]] = []
    for name, value in request.form.items(multi=True):
        if name in CARRIED_FIELDS:
            carried.append((name, value))
        elif drafts.keepable({name: value}):
            kept.append((name, value))
    page = render_template(
        "staff/not_saved.html",
        kept=kept,
        carried=carried,
        files=any(f.filename for f in request.files.values()),
        back=page_to_return_to(),
    )
    return unavailable(make_response(page))


def handle_outage(error: Exception) -> Response:
    """The page for a request that met a database outage (see the module's docstring)."""
    # The class only: hide_parameters keeps values out of the message, and the message of a
    # refused connection names hosts that do not belong in every log line.
    log.warning(
        "database unavailable during %s %s: %s", request.method, request.path, type(error).__name__
    )
    drop_session()
    memory().outage_seen()
    g.staff_session = None  # the staff pages' header must not ask the database who is in
    if request.path.startswith("/api/"):
        return unavailable(error_response(503, str(UNAVAILABLE[0]) + "."))
    if request.endpoint in TIP_ENDPOINTS:
        return tip_form_page()
    if request.endpoint == "receipt.answer":
        return _answer_page()
    if request.method == "POST" and request.path.startswith("/staff/"):
        if request.endpoint == "calltaker.new_call":
            return _call_page()
        if request.endpoint not in SECRET_FORMS:
            return _staff_page()
    title, text = UNAVAILABLE
    page = render_template("error.html", code=503, title=title, text=text)
    return unavailable(make_response(page))


def init_app(app: Flask) -> None:
    app.extensions["tipline.form_memory"] = FormMemory()
    for error in OUTAGE_ERRORS:
        app.register_error_handler(error, handle_outage)
