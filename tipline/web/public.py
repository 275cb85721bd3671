"""Pages for the public: the gallery, notices, the tip form and its receipt."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from tipline import db
from tipline.i18n import current_locale
from tipline.notices import change_stamps, photos
from tipline.notices import services as notices
from tipline.notices.models import Notice
from tipline.sealing import SealBroken
from tipline.tips import services as tips
from tipline.tips.attachments import PhotoLimits, PhotoRejected
from tipline.tips.forms import TipForm, new_form_token, uploaded
from tipline.tips.models import TipStatus
from tipline.tips.receipts import receipt_key, receipt_secret
from tipline.triage import intake
from tipline.triage.intake import TipTarget
from tipline.web import caching, limits, outage
from tipline.web.responses import image_response, keep_form_on_429

bp = Blueprint("public", __name__)
SAVE_ATTEMPTS = 4
log = logging.getLogger(__name__)

ROBOTS = """User-agent: *
Disallow: /tip
Disallow: /notices/*/tip
Disallow: /receipt
Disallow: /staff/
"""


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def photo_limits(app: Flask) -> PhotoLimits:
    return PhotoLimits(
        count=int(app.config["MAX_TIP_PHOTOS"]),
        max_bytes=int(app.config["PHOTO_MAX_BYTES"]),
        max_pixels=int(app.config["PHOTO_MAX_PIXELS"]),
        max_side=int(app.config["PHOTO_MAX_SIDE"]),
    )


def submission_options(app: Flask) -> dict[str, Any]:
    """Keyword arguments for ``submit_tip`` that come from configuration."""
    return {
        "data_key": app.config["DATA_KEY"],
        "photo_limits": photo_limits(app),
        "replay_window": timedelta(minutes=int(app.config["TIP_REPLAY_MINUTES"])),
    }


@bp.get("/")
@caching.public_page(change_stamps.gallery_version)
def gallery() -> str:
    return render_template("public/gallery.html", notices=notices.published_notices(db.session()))


@bp.get("/notices/<slug>")
@caching.public_page(change_stamps.notice_version)
def notice(slug: str) -> str:
    found = notices.public_notice(db.session(), slug)
    if found is None:
        abort(404)
    lines = notices.contact_lines_for(db.session(), found)
    return render_template("public/notice.html", notice=found, contact_lines=lines)


@bp.get("/notices/<slug>/photos/<int:photo_id>/<variant>")
def notice_photo(slug: str, photo_id: int, variant: str) -> Response:
    """A notice photo ("display" or "thumb"), only while the notice is public and its
    details have not been taken down."""
    found = photos.public_photo(db.session(), slug, photo_id, variant)
    if found is None:
        abort(404)
    return image_response(*found)


@bp.route("/notices/<slug>/tip", methods=["GET", "POST"])
@db.read_only_on_get
def notice_tip(slug: str) -> Response:
    if request.method == "GET" and outage.recently_unavailable():
        return outage.tip_form_page()
    if request.method == "GET":
        # The tip form of a notice in the news is the most requested page that cannot be
        # shared: it carries per-visitor tokens. A visitor without a session gets the kept
        # page of this notice version and language with fresh tokens (web/caching/form_shells.py).
        kept = caching.filled_form(
            change_stamps.notice_version,
            {"slug": slug},
            lambda: _tip_form_shell(slug),
            new_form_token(),
        )
        if kept is not None:
            return _no_store(kept)
    # Read outside the tip's transaction and remembered until notices change: on SQLite the
    # write lock is then taken only for the tip's own writes, and on PostgreSQL a repeated
    # POST to the same notice costs no query for it.
    target = caching.remembered_read(intake.open_for_tips, slug=slug)
    if target is None:
        if request.method == "POST":
            resolved = notices.public_notice(db.session(), slug)
            if resolved is not None:
                return _resolved_while_typing(resolved)
        abort(404)
    return _tip_form(target)


def _resolved_while_typing(resolved: Notice) -> Response:
    """The notice was resolved while the tipster was writing: nothing is saved, and what they
    typed comes back as a general tip, ready to send (photos must be chosen again)."""
    form = TipForm()
    if not form.form_token.data:
        form.form_token.data = new_form_token()
    page = render_template(
        "public/tip_form.html",
        form=form,
        notice=None,
        resolved_notice=resolved,
        form_action=url_for("public.tip"),
        contact_lines=notices.contact_lines_for(db.session(), None),
        max_photos=current_app.config["MAX_TIP_PHOTOS"],
    )
    return _no_store(make_response(page, 409))


@bp.get("/resolved")
@caching.public_page(change_stamps.resolved_version)
def resolved() -> str:
    """Notices whose person is no longer sought, with what happened: tips work."""
    return render_template("public/resolved.html", notices=notices.resolved_notices(db.session()))


def _tip_form_shell(slug: str) -> str:
    """The notice's blank tip form with the token slots in place of its two tokens."""
    found = notices.notice_taking_tips(db.session(), slug)
    if found is None:  # resolved: public, but taking no more tips
        abort(404)
    form = TipForm()
    form.csrf_token.current_token = caching.CSRF_SLOT
    form.form_token.data = caching.FORM_TOKEN_SLOT
    return _render_tip_form(form, found)


@bp.route("/tip", methods=["GET", "POST"])
@db.read_only_on_get
def tip() -> Response:
    return _tip_form(None)


#: The session key holding the last sent tip form's token: it lets this browser, and only
#: it, see the receipt code again within TIP_REPLAY_MINUTES (tips.services.shown_again).
RECEIPT_FORM_KEY = "receipt_form"


def _receipt(
    tip: Any, code: str | None, notice: object, repeated: bool, form_token: str | None
) -> Response:
    # Rendered in the POST response, so the code never appears in a URL or a cookie. The
    # cookie keeps only the form's token: with it, /tip/received shows the same code again
    # (after a language switch or a link away and back) until the replay window closes.
    if form_token:
        flask_session[RECEIPT_FORM_KEY] = form_token
    g.switch_endpoint = "public.received"

    def render(shown_code: str | None) -> str:
        return render_template(
            "public/receipt.html",
            tip=tip,
            code=shown_code,
            notice=notice,
            repeated=repeated,
            replay_minutes=int(current_app.config["TIP_REPLAY_MINUTES"]),
            retention_days=int(current_app.config["TIP_RETENTION_DAYS"]),
        )

    page: str | bytes | None = None
    if code and not repeated and tip.status is TipStatus.NEW and "_flashes" not in flask_session:
        # Every new tip's receipt is the same page but for its code: kept per kind and
        # language with the code as slots (rendering it was a tenth of a tip's cost).
        kind = f"notice={notice is not None};there_now={bool(tip.there_now)}"
        page = caching.filled_receipt(kind, render, code)
    return _no_store(make_response(page if page is not None else render(code)))


@bp.get("/tip/received")
@db.read_only_on_get
def received() -> Response:
    """The receipt page again, for the browser that sent the tip (the code only within the
    replay window); anyone else goes to the code form."""
    token = flask_session.get(RECEIPT_FORM_KEY)
    found = None
    if isinstance(token, str) and token:
        options = submission_options(current_app)
        found = tips.shown_again(
            db.session(),
            receipt_key(receipt_secret(current_app.config)),
            options["data_key"],
            token,
            options["replay_window"],
        )
    if found is None:
        return redirect(url_for("receipt.lookup"), code=303)
    tip, code = found
    return _receipt(tip, code, tip.notice, repeated=False, form_token=None)


def _photos_chosen(form: TipForm) -> bool:
    """Whether the browser sent any file (without reading it)."""
    return any(isinstance(f, FileStorage) and f.filename for f in form.photos.data or [])


def _tip_form(target: TipTarget | None) -> Response:
    form = TipForm()
    session = db.session()
    save_failed = honeypot = False
    if form.validate_on_submit():
        if form.website.data:
            # A hidden field only form-filling software sees. Nothing is saved; a person whose
            # auto-fill did it can simply send again (the field is cleared below).
            honeypot = True
            form.website.data = ""
        else:
            flood = limits.possible_flood()
            for attempt in range(SAVE_ATTEMPTS):
                try:
                    if target is not None:
                        intake.followers_known(session, target)
                    tip, code = tips.submit_tip(
                        session,
                        form.to_report(),
                        receipt_key(receipt_secret(current_app.config)),
                        notice=target,
                        photos=uploaded(form.photos.data),
                        form_token=form.form_token.data or None,
                        # A form is sent once: its token is looked up only after the unique
                        # index refused it (a double click, a reload), saving a query per tip.
                        look_up_form_token=attempt > 0,
                        possible_flood=flood,
                        language=current_locale(),
                        **submission_options(current_app),
                    )
                    session.commit()
                except tips.AlreadyReceived as done:
                    session.rollback()
                    return _receipt(done.tip, done.code, target, True, form.form_token.data)
                except PhotoRejected as error:
                    session.rollback()
                    form.photos.errors = [str(error), gettext("Please choose the photos again.")]
                except (SQLAlchemyError, SealBroken) as error:
                    session.rollback()
                    if (
                        attempt + 1 < SAVE_ATTEMPTS
                        and isinstance(error, SQLAlchemyError)
                        and not outage.is_outage(error)
                    ):
                        # Two submits of one form at once (a double click) collide here, as a
                        # unique-key error or, on SQLite, a locked database; a later try finds
                        # the tip the other request saved and shows it. A unique-key error
                        # means the other one has committed: look at once.
                        if not isinstance(error, IntegrityError):
                            time.sleep(0.05 * (attempt + 1))
                        continue
                    # Never show a receipt for a tip that is not on disk. Log no tip content
                    # (the engine hides statement parameters). An unreachable or timed-out
                    # database is not retried: each try would wait out the timeouts again.
                    log.exception("a tip could not be saved")
                    save_failed = True
                else:
                    return _receipt(tip, code, target, False, form.form_token.data)
                break
    if form.form_token.errors or not form.form_token.data:
        form.form_token.data = new_form_token()
    if request.method == "POST" and not form.photos.errors and _photos_chosen(form):
        # Files cannot be sent back to the browser: say so rather than drop them quietly.
        form.photos.errors = [gettext("Your photo was not sent: please choose it again.")]
    # The page shows the whole notice (name, photo, contact lines): read it for the page.
    notice = None if target is None else notices.notice_taking_tips(session, target.slug)
    page = _render_tip_form(form, notice, save_failed=save_failed, honeypot=honeypot)
    if save_failed:
        return outage.unavailable(make_response(page))
    return _no_store(make_response(page, 400 if form.errors or honeypot else 200))


def _render_tip_form(
    form: TipForm,
    notice: Notice | None,
    save_failed: bool = False,
    honeypot: bool = False,
    rate_limited: bool = False,
) -> str:
    notice, lines = outage.tip_form_context(notice)
    return render_template(
        "public/tip_form.html",
        form=form,
        notice=notice,
        contact_lines=lines,
        outage=not save_failed and outage.recently_unavailable(),
        save_failed=save_failed,
        honeypot=honeypot,
        rate_limited=rate_limited,
        max_photos=current_app.config["MAX_TIP_PHOTOS"],
    )


def tip_form_again() -> Response:
    """The tip form as it was sent, for a POST the rate limit refused (web/responses.py)."""
    form = TipForm()
    form.validate()
    if _photos_chosen(form):
        form.photos.errors = [gettext("Your photo was not sent: please choose it again.")]
    slug = (request.view_args or {}).get("slug")
    found = notices.notice_taking_tips(db.session(), slug) if slug else None
    return _no_store(make_response(_render_tip_form(form, found, rate_limited=True), 429))


@bp.get("/robots.txt")
def robots() -> Response:
    return make_response(ROBOTS, 200, {"Content-Type": "text/plain; charset=utf-8"})


@bp.get("/healthz")
def healthz() -> Response:
    return _no_store(make_response("ok\n", 200, {"Content-Type": "text/plain"}))


keep_form_on_429("public.tip", tip_form_again)
keep_form_on_429("public.notice_tip", tip_form_again)
