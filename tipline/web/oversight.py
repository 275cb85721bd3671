"""Supervisors' pages under /staff/: the audit log and its last verification."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from tipline import db
from tipline.audit import services as audit
from tipline.auth.policy import current_staff

bp = Blueprint("oversight", __name__, url_prefix="/staff")


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/audit")
def audit_log() -> str:
    user = current_staff()
    assert user is not None  # the policy guarantees a signed-in supervisor here
    return render_template("staff/audit.html", overview=audit.overview(db.session(), user))
