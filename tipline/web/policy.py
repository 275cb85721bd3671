"""Who may open which page. Every endpoint of the app is in ``ROUTE_ROLES``; anything missing
is refused (deny by default), and a test fails when a route is added without an entry.

A staff member is whoever holds a live server-side session (``tipline.auth.sessions``); the
signed cookie only carries the session's token.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth import drafts, sessions
from tipline.auth.models import TIP_READERS, Role, StaffSession, StaffUser
from tipline.notices.services import NOTICE_REVIEWERS, NOTICE_WRITERS
from tipline.web import draft_tickets

PUBLIC = "public"  # anyone, signed in or not
ENROLLING = "enrolling"  # right password, authenticator not yet set up: enrolment only
ANY_STAFF = frozenset(Role)
ADMINS = frozenset({Role.ADMIN})

#: What a staff member who must choose a new password may still open.
CHANGING_PASSWORD = frozenset({"account.password", "account.logout"})

#: The key in the (signed) Flask session that carries the staff session's token.
SESSION_KEY = "staff_token"

ROUTE_ROLES: dict[str, str | frozenset[Role]] = {
    "static": PUBLIC,
    "public.gallery": PUBLIC,
    "public.notice": PUBLIC,
    "public.notice_tip": PUBLIC,
    "public.tip": PUBLIC,
    "public.received": PUBLIC,
    "public.notice_photo": PUBLIC,
    "public.healthz": PUBLIC,
    "account.login": PUBLIC,
    "account.enrol": ENROLLING,
    "account.logout": ANY_STAFF,
    "account.password": ANY_STAFF,
    "feeds.atom": PUBLIC,
    "feeds.cap_message": PUBLIC,
    "feeds.poster_pdf": PUBLIC,
    "feeds.share_image_png": PUBLIC,
    "feeds.short_link": PUBLIC,
    "api.notices": PUBLIC,
    "api.notice": PUBLIC,
    "api.openapi": PUBLIC,
    "health.readyz": PUBLIC,
    # The audit log's transparency endpoints: hashes and signatures only.
    "log.checkpoint": PUBLIC,
    "log.latest": PUBLIC,
    "log.head_history": PUBLIC,
    "log.public_key": PUBLIC,
    "log.consistency": PUBLIC,
    "log.inclusion": PUBLIC,
    "log.witnesses": PUBLIC,
    "log.cosign": PUBLIC,
    "staff.home": ANY_STAFF,
    "staff.queue": TIP_READERS,
    "staff.tip": TIP_READERS,
    "oversight.audit_log": frozenset({Role.SUPERVISOR}),
    "mail.undelivered": frozenset({Role.SUPERVISOR, Role.ADMIN}),
    "mail.retry": frozenset({Role.SUPERVISOR, Role.ADMIN}),
    "oversight.oversight": frozenset({Role.SUPERVISOR}),
    "oversight.acknowledge": frozenset({Role.SUPERVISOR}),
    "oversight.confirm": frozenset({Role.SUPERVISOR}),
    "oversight.reject": frozenset({Role.SUPERVISOR}),
    "oversight.reviewed": frozenset({Role.SUPERVISOR}),
    "oversight.reopen": frozenset({Role.SUPERVISOR}),
    # Notices: PIOs write; a second PIO or a supervisor reviews, resolves and archives.
    "pio.index": NOTICE_REVIEWERS,
    "pio.notice": NOTICE_REVIEWERS,
    "pio.photo": NOTICE_REVIEWERS,
    "pio.new": NOTICE_WRITERS,
    "pio.edit": NOTICE_WRITERS,
    "pio.submit": NOTICE_WRITERS,
    "pio.add_photo": NOTICE_WRITERS,
    "pio.remove_photo": NOTICE_WRITERS,
    "pio.approve": NOTICE_REVIEWERS,
    "pio.return_": NOTICE_REVIEWERS,
    "pio.resolve": NOTICE_REVIEWERS,
    "pio.correct": NOTICE_REVIEWERS,
    "pio.preview": NOTICE_REVIEWERS,
    "pio.preview_poster": NOTICE_REVIEWERS,
    "pio.preview_share": NOTICE_REVIEWERS,
    "pio.approve_change": NOTICE_REVIEWERS,
    "pio.withdraw_change": NOTICE_REVIEWERS,
    "pio.archive": NOTICE_REVIEWERS,
    "admin.staff_list": ADMINS,
    "admin.staff_create": ADMINS,
    "admin.staff_edit": ADMINS,
    "admin.staff_role": ADMINS,
    "admin.staff_active": ADMINS,
    "admin.staff_reset_totp": ADMINS,
    "admin.staff_unlock": ADMINS,
    "admin.units_list": ADMINS,
    "admin.staff_reset_password": ADMINS,
    "public.robots": PUBLIC,
    "public.resolved": PUBLIC,
    "receipt.lookup": PUBLIC,
    "receipt.answer": PUBLIC,
    "receipt.leave": PUBLIC,
    "dialog.ask": TIP_READERS,
    "dialog.spam": TIP_READERS,
    "dialog.photo": TIP_READERS,
    "calltaker.calls_log": frozenset({Role.CALL_TAKER, Role.SUPERVISOR}),
    "calltaker.new_call": frozenset({Role.CALL_TAKER}),
    # Triage: every action re-checks the role in its service.
    "staff.next_tip": TIP_READERS,
    "triage.claim": TIP_READERS,
    "triage.release": TIP_READERS,
    "triage.reassign": frozenset({Role.SUPERVISOR}),
    "triage.status": TIP_READERS,
    "triage.priority": TIP_READERS,
    "triage.add_note": TIP_READERS,
    "triage.add_tag": TIP_READERS,
    "triage.remove_tag": TIP_READERS,
    "triage.link": TIP_READERS,
    "triage.export_json": TIP_READERS,
    "triage.export_pdf": TIP_READERS,
    "triage.notice": TIP_READERS,
    "follows.follow": TIP_READERS,
    "follows.unfollow": TIP_READERS,
    "follows.confirm": TIP_READERS,
    # Crime Stoppers rewards: every service re-checks the role.
    "rewards.outcome": TIP_READERS,
    "rewards.record_outcome": TIP_READERS,
    "rewards.outcome_requests": TIP_READERS,
    "rewards.index": frozenset({Role.COORDINATOR}),
    "rewards.request_eligibility": frozenset({Role.COORDINATOR}),
    "rewards.tip": frozenset({Role.COORDINATOR}),
    "rewards.propose": frozenset({Role.COORDINATOR}),
    "rewards.approve": frozenset({Role.COORDINATOR}),
    "rewards.decline": frozenset({Role.COORDINATOR}),
    "rewards.ledger": frozenset({Role.COORDINATOR, Role.SUPERVISOR}),
    "rewards.ledger_csv": frozenset({Role.COORDINATOR, Role.SUPERVISOR}),
    "rewards.correction": frozenset({Role.COORDINATOR}),
    "rewards.payout_check": frozenset({Role.PAYOUT_DESK}),
    "rewards.payout_pay": frozenset({Role.PAYOUT_DESK}),
    "receipt.payout_code": PUBLIC,
}


def _timeouts() -> sessions.Timeouts:
    return sessions.Timeouts(
        idle=timedelta(seconds=current_app.config["STAFF_SESSION_IDLE_SECONDS"]),
        absolute=timedelta(seconds=current_app.config["STAFF_SESSION_MAX_SECONDS"]),
    )


def current_staff_session() -> StaffSession | None:
    """The live server-side session of this request, signed in or enrolling, if any."""
    if "staff_session" not in g:
        found = None
        token = session.get(SESSION_KEY)
        if token is not None:
            s = db.session()
            found = sessions.resolve_session(s, token, _timeouts())
            s.commit()  # an expiry or a last-seen refresh, before the view's own work
            if found is None:
                session.pop(SESSION_KEY, None)  # dead token: stop sending it
                g.ended_staff_token = token  # a POST's text may still be kept (below)
        g.staff_session = found
    return g.staff_session


def current_staff() -> StaffUser | None:
    """The signed-in, still-active staff member for this request, if any (never one who
    has not finished enrolling their authenticator)."""
    found = current_staff_session()
    if found is None or found.enrolling:
        return None
    return found.user


def signed_in_staff() -> StaffUser:
    """The signed-in staff member, in a view the role table already guards."""
    user = current_staff()
    if user is None:  # unreachable behind ROUTE_ROLES; refuse rather than guess
        abort(403)
    return user


def enforce() -> Response | None:
    """``before_request`` hook: let the request through, send it to sign-in, or refuse it."""
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: the 404 handler answers
        return None
    allowed = ROUTE_ROLES.get(endpoint)
    if allowed is None:
        abort(403)
    if allowed == PUBLIC:
        return None
    if allowed == ENROLLING:
        found = current_staff_session()
        if found is None or not found.enrolling:
            return redirect(url_for("account.login"), code=303)
        return None
    user = current_staff()
    if user is None:
        return _to_sign_in()
    if user.password_change_required and endpoint not in CHANGING_PASSWORD:
        # A password an administrator handed over opens nothing but the password page.
        return redirect(url_for("account.password"), code=303)
    if user.role not in allowed:
        abort(403)
    return None


def page_to_return_to() -> str:
    """The page to come back to after signing in: this one for a GET; for a POST, the staff
    page the form was on (sign-in only ever returns to a page a GET can show)."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/staff/"):
        return referrer.path
    # No referrer (a proxy may strip it): the nearest page above the form's address, such as
    # /staff/tips/<ref> for /staff/tips/<ref>/notes.
    adapter = current_app.url_map.bind("localhost")
    parts = request.path.rstrip("/").split("/")
    while len(parts) > 2:
        parts.pop()
        candidate = "/".join(parts)
        try:
            adapter.match(candidate, method="GET")
        except HTTPException:
            continue
        return candidate
    return url_for("staff.home")


def why_signed_out(ended: StaffSession) -> str:
    """The sentence that tells a person why the session a page was drawn for is over."""
    if ended.ended_reason == "idle_timeout":
        minutes = max(1, current_app.config["STAFF_SESSION_IDLE_SECONDS"] // 60)
        return f"You were signed out after {minutes} minutes without activity."
    if ended.ended_reason == "absolute_timeout":
        return "You were signed out because your session reached its time limit."
    if ended.ended_reason == "logout":
        return "You had signed out (in this window or another one)."
    if ended.ended_reason == "replaced":
        return "You signed in again in another window, which ended this page's session."
    return "This browser is no longer signed in."


def kept_sentence() -> str:
    why = " What you were sending was kept: sign in again to get it back."
    if any(f.filename for f in request.files.values()):
        why += " Choose your photo again: files cannot be kept."
    return why


def _to_sign_in() -> Response:
    """Send the browser to sign in, saying why when its session ended. A form sent after its
    session ended has its text kept, sealed, for the same account (auth/drafts.py): the
    account is the one the form's ticket names, or the one whose timed-out session the cookie
    still carries."""
    target = page_to_return_to()
    ended = drafts.ended_by_timeout(db.session(), g.get("ended_staff_token"))
    owner = draft_tickets.page_owner(db.session()) if request.method == "POST" else None
    owner = owner or ended
    if owner is not None:
        why = why_signed_out(ended if ended is not None else owner)
        if request.method == "POST" and draft_tickets.keep_posted(owner, target):
            why += kept_sentence()
        flash(why, "info")
    return redirect(url_for("account.login", next=target), code=303)


def init_app(app: Flask) -> None:
    app.before_request(enforce)
