"""Pages for the public: the gallery, notices, the tip form and its receipt."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, make_response, render_template
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from tipline import db
from tipline.notices import services as notices
from tipline.notices import versions
from tipline.notices.models import Notice, NoticeStatus
from tipline.tips import services as tips
from tipline.tips.forms import TipForm
from tipline.tips.receipts import receipt_key
from tipline.web import caching

bp = Blueprint("public", __name__)
log = logging.getLogger(__name__)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@caching.public_page(versions.gallery_version)
def gallery() -> str:
    return render_template("public/gallery.html", notices=notices.published_notices(db.session()))


@bp.get("/notices/<slug>")
@caching.public_page(versions.notice_version)
def notice(slug: str) -> str:
    found = notices.public_notice(db.session(), slug)
    if found is None:
        abort(404)
    lines = notices.contact_lines_for(db.session(), found)
    return render_template("public/notice.html", notice=found, contact_lines=lines)


@bp.route("/notices/<slug>/tip", methods=["GET", "POST"])
@db.read_only_on_get
def notice_tip(slug: str) -> Response:
    found = notices.public_notice(db.session(), slug)
    if found is None or found.status is not NoticeStatus.PUBLISHED:
        abort(404)
    return _tip_form(found)


@bp.route("/tip", methods=["GET", "POST"])
@db.read_only_on_get
def tip() -> Response:
    return _tip_form(None)


def _tip_form(notice: Notice | None) -> Response:
    form = TipForm()
    session = db.session()
    save_failed = False
    if form.validate_on_submit():
        try:
            tip, code = tips.submit_tip(
                session, form.to_report(), receipt_key(current_app.secret_key), notice=notice
            )
            session.commit()
        except SQLAlchemyError:
            # Never show a receipt for a tip that is not on disk. Log no tip content.
            session.rollback()
            log.exception("a tip could not be saved")
            save_failed = True
        else:
            # Rendered in the POST response rather than after a redirect, so the code never
            # appears in a URL, a cookie or the browser's history.
            page = render_template(
                "public/receipt.html", tip=tip, code=code, notice=notice, just_submitted=True
            )
            return _no_store(make_response(page))
    lines = notices.contact_lines_for(session, notice)
    page = render_template(
        "public/tip_form.html",
        form=form,
        notice=notice,
        contact_lines=lines,
        save_failed=save_failed,
    )
    status = 503 if save_failed else (400 if form.errors else 200)
    return _no_store(make_response(page, status))


@bp.get("/healthz")
def healthz() -> Response:
    return _no_store(make_response("ok\n", 200, {"Content-Type": "text/plain"}))
