"""Who may open which page. Every endpoint of the app is in ``ROUTE_ROLES``; anything missing
is refused (deny by default), and a test fails when a route is added without an entry."""

from __future__ import annotations

from flask import Flask, abort, g, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth.models import Role, StaffUser
from tipline.notices.services import NOTICE_REVIEWERS, NOTICE_WRITERS
from tipline.triage.services import TIP_READERS

PUBLIC = "public"  # anyone, signed in or not
ANY_STAFF = frozenset(Role)

ROUTE_ROLES: dict[str, str | frozenset[Role]] = {
    "static": PUBLIC,
    "public.gallery": PUBLIC,
    "public.notice": PUBLIC,
    "public.notice_tip": PUBLIC,
    "public.tip": PUBLIC,
    "public.notice_photo": PUBLIC,
    "public.healthz": PUBLIC,
    "staff.login": PUBLIC,
    "staff.logout": ANY_STAFF,
    "staff.home": ANY_STAFF,
    "staff.queue": TIP_READERS,
    "staff.tip": TIP_READERS,
    "oversight.audit_log": frozenset({Role.SUPERVISOR}),
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
    "pio.archive": NOTICE_REVIEWERS,
}


def current_staff() -> StaffUser | None:
    """The signed-in, still-active staff member for this request, if any."""
    if "staff" not in g:
        staff_id = session.get("staff_id")
        user = None
        if staff_id is not None:
            user = db.session().scalar(
                select(StaffUser).where(StaffUser.id == staff_id, StaffUser.active.is_(True))
            )
        g.staff = user
    return g.staff


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
    user = current_staff()
    if user is None:
        return redirect(url_for("staff.login", next=request.path), code=303)
    if user.role not in allowed:
        abort(403)
    return None


def init_app(app: Flask) -> None:
    app.before_request(enforce)
