"""Pages for staff under /staff/: sign-in, the queue and a tip."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth import services as auth
from tipline.auth.forms import ButtonForm, LoginForm
from tipline.auth.policy import current_staff
from tipline.triage import services as triage

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _safe_next(target: str | None) -> str:
    """Only a path inside /staff/ on this site; anything else goes home."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/staff/"):
            return parts.path
    return url_for("staff.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        user = auth.authenticate(db.session(), form.username.data, form.password.data)
        db.session().commit()  # the attempt is audited whether or not it succeeded
        if user is not None:
            session.clear()  # a fresh session at sign-in; nothing carried over
            session["staff_id"] = user.id
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")), code=303)
        failed = True
    status = 401 if failed else (400 if form.errors else 200)
    return render_template("staff/login.html", form=form, failed=failed), status


@bp.post("/logout")
def logout() -> Response:
    if ButtonForm().validate_on_submit():
        session.clear()
        flash("You are signed out.", "info")
    return redirect(url_for("staff.login"), code=303)


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
