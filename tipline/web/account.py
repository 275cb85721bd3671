"""Staff sign-in under /staff/: password and authenticator code, first-time enrolment of the
authenticator, sign-out, and changing one's password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth import drafts, sessions, totp
from tipline.auth import services as auth
from tipline.auth.forms import ButtonForm, EnrolForm, LoginForm, PasswordChangeForm
from tipline.auth.models import StaffSession, StaffUser
from tipline.sealing import SealBroken
from tipline.web.drafts import RESTORE_KEY
from tipline.web.policy import SESSION_KEY, current_staff, current_staff_session

bp = Blueprint("account", __name__, url_prefix="/staff")


def _keys() -> auth.SignInKeys:
    return auth.SignInKeys.from_config(current_app.config)


def _rules() -> auth.ThrottleRules:
    return auth.ThrottleRules.from_config(current_app.config)


def _safe_next(target: str | None) -> str:
    """Only a page inside /staff/ on this site that a GET can show (never a form's POST
    address, which would answer 405); anything else goes home."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/staff/"):
            try:
                current_app.url_map.bind("localhost").match(parts.path, method="GET")
            except HTTPException:
                return url_for("staff.home")
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return url_for("staff.home")


def _begin_session(user: StaffUser, enrolling: bool, old: StaffSession | None) -> None:
    """A new server-side session and a new cookie: nothing from before sign-in is kept."""
    if old is not None:
        sessions.end_session(db.session(), old, "replaced")
    token = sessions.start_session(db.session(), user, enrolling=enrolling)
    next_target = session.get("next") if enrolling else None
    session.clear()
    session[SESSION_KEY] = token
    if next_target:
        session["next"] = next_target
    session.permanent = True


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    form = LoginForm()
    outcome = None
    previous = current_staff_session()  # resolved before any work: it may commit an expiry
    if form.validate_on_submit():
        try:
            result = auth.sign_in(
                db.session(),
                form.username.data,
                form.password.data,
                form.code.data or "",
                _keys(),
                _rules(),
            )
        except SealBroken as error:
            return _sealed_secret_unreadable(form, error)
        outcome = result.outcome
        if result.user is not None:
            enrolling = outcome is auth.Outcome.ENROL
            if enrolling:
                session["next"] = _safe_next(request.args.get("next"))
            _begin_session(result.user, enrolling=enrolling, old=previous)
        db.session().commit()  # the attempt is audited whether or not it succeeded
        if outcome is auth.Outcome.SIGNED_IN:
            assert result.user is not None
            kept = drafts.waiting(
                db.session(), result.user, current_app.config["DATA_KEY"], db.utcnow()
            )
            if kept is not None:
                session[RESTORE_KEY] = True  # the page taking it back is a GET (web/drafts.py)
                return redirect(_safe_next(kept.return_to), code=303)
            return redirect(_safe_next(request.args.get("next")), code=303)
        if outcome is auth.Outcome.ENROL:
            return redirect(url_for("account.enrol"), code=303)
    codes = {auth.Outcome.FAILED: 401, auth.Outcome.LOCKED: 429}
    status = codes.get(outcome, 400) if outcome else (400 if form.errors else 200)
    minutes = current_app.config["LOGIN_LOCKOUT_SECONDS"] // 60
    page = render_template(
        "staff/login.html", form=form, outcome=outcome and outcome.value, minutes=minutes
    )
    return page, status


def _sealed_secret_unreadable(form: LoginForm, error: SealBroken) -> tuple[str, int]:
    """The account's authenticator secret did not open: the server's data key is wrong.
    Nothing was recorded against the account; the operators are told in the log."""
    db.session().rollback()
    current_app.logger.error("sign-in refused: the authenticator secret did not open: %s", error)
    page = render_template("staff/login.html", form=form, outcome="unavailable", minutes=0)
    return page, 503


@bp.route("/enrol", methods=["GET", "POST"])
def enrol() -> Response | tuple[str, int]:
    try:
        return _enrol()
    except SealBroken as error:  # a secret sealed under another data key
        return _sealed_secret_unreadable(LoginForm(formdata=None), error)


def _enrol() -> Response | tuple[str, int]:
    staff_session = current_staff_session()
    assert staff_session is not None and staff_session.enrolling  # the policy checked
    user = staff_session.user
    s = db.session()
    form = EnrolForm()
    wrong = False
    if form.validate_on_submit():
        codes = auth.confirm_enrolment(s, user, form.code.data, _keys(), _rules())
        if codes is not None:
            next_target = session.get("next")
            _begin_session(user, enrolling=False, old=staff_session)
            s.commit()
            page = render_template(
                "staff/recovery_codes.html", codes=codes, next=_safe_next(next_target)
            )
            # In the POST response, never behind a URL: the codes are shown exactly once.
            return page, 200
        s.commit()  # the failure is throttled and audited
        if current_staff_session() is None or staff_session.ended_at is not None:
            session.clear()
            flash("Too many wrong codes. Sign in again in a few minutes.", "error")
            return redirect(url_for("account.login"), code=303)
        wrong = True
    secret = totp.start_enrolment(s, user, current_app.config["DATA_KEY"])
    s.commit()
    uri = totp.provisioning_uri(user, secret, current_app.config["TOTP_ISSUER"])
    page = render_template(
        "staff/enrol.html",
        form=form,
        wrong=wrong,
        qr=totp.qr_data_uri(uri),
        key=totp.grouped_secret(secret),
        username=user.username,
        issuer=current_app.config["TOTP_ISSUER"],
    )
    return page, (400 if wrong or form.errors else 200)


@bp.post("/logout")
def logout() -> Response:
    if ButtonForm().validate_on_submit():
        staff_session = current_staff_session()
        if staff_session is not None:
            sessions.end_session(db.session(), staff_session, "logout")
            db.session().commit()
        session.clear()
        flash("You are signed out.", "info")
    return redirect(url_for("account.login"), code=303)


@bp.route("/password", methods=["GET", "POST"])
def password() -> Response | tuple[str, int]:
    user = current_staff()
    assert user is not None
    form = PasswordChangeForm()
    if form.validate_on_submit():
        now = db.utcnow()
        try:
            auth.refuse_if_locked(db.session(), user, _keys(), now)
            auth.change_password(
                db.session(),
                user,
                form.current.data,
                form.new.data,
                current_app.config["MIN_PASSWORD_LENGTH"],
            )
        except auth.PasswordRejected as error:
            db.session().rollback()
            if str(error) == auth.WRONG_CURRENT:
                # Throttled and audited like a wrong password at sign-in.
                auth.record_wrong_current_password(db.session(), user, _keys(), _rules(), now)
                db.session().commit()
            current = str(error) in (auth.WRONG_CURRENT, auth.TOO_MANY_CURRENT)
            target = form.current if current else form.new
            target.errors = [*target.errors, str(error)]
        else:
            db.session().commit()
            session.clear()
            flash("Your password is changed. Sign in again with the new password.", "info")
            return redirect(url_for("account.login"), code=303)
    return render_template("staff/password.html", form=form), (400 if form.errors else 200)
