"""Pages for staff under /staff/: home, the queue and a tip. Sign-in is in account.py."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth.policy import current_staff
from tipline.triage import services as triage

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def home() -> Response | str:
    user = current_staff()
    assert user is not None  # the policy guarantees a signed-in user here
    if user.role in triage.TIP_READERS:
        return redirect(url_for("staff.queue"), code=303)
    return render_template("staff/home.html", agency=current_app.config["AGENCY_NAME"])


@bp.get("/queue")
def queue() -> str:
    user = current_staff()
    assert user is not None
    return render_template("staff/queue.html", tips=triage.open_queue(db.session(), user))


@bp.get("/tips/<ref>")
def tip(ref: str) -> str:
    user = current_staff()
    assert user is not None
    found = triage.view_tip(db.session(), user, ref)
    if found is None:
        abort(404)
    db.session().commit()  # the view is audited
    return render_template("staff/tip.html", tip=found)
