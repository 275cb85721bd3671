"""Who may open which page. Every endpoint of the app is in ``ROUTE_ROLES``; anything missing
is refused (deny by default), and a test fails when a route is added without an entry."""

from __future__ import annotations

from flask import Flask, abort, g, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth.models import Role, StaffUser
from tipline.triage.services import TIP_READERS

PUBLIC = "public"  # anyone, signed in or not
ANY_STAFF = frozenset(Role)

ROUTE_ROLES: dict[str, str | frozenset[Role]] = {
    "static": PUBLIC,
    "public.gallery": PUBLIC,
    "public.notice": PUBLIC,
    "public.notice_tip": PUBLIC,
    "public.tip": PUBLIC,
    "public.healthz": PUBLIC,
    "health.readyz": PUBLIC,
    "staff.login": PUBLIC,
    "staff.logout": ANY_STAFF,
    "staff.home": ANY_STAFF,
    "staff.queue": TIP_READERS,
    "staff.tip": TIP_READERS,
    "oversight.audit_log": frozenset({Role.SUPERVISOR}),
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
