"""The ticket a staff form carries so that what was typed in it outlives the session cookie.

Each staff form has a hidden field with a signed, dated reference to the server-side session
the page was drawn for (never the session's token, which only the cookie holds). When a POST
arrives without a live session, or with a CSRF token that no longer matches because the
person signed out or signed in again in another tab, the ticket still says whose text it is,
and the text is kept sealed for that account (auth/drafts.py) until they sign in again.

Why a field in the page rather than the cookie or the browser's storage: the cookie is exactly
what a sign-out clears and what a new sign-in replaces; browser storage would leave a
detective's notes in plain text on a shared workstation after they signed out, and needs
JavaScript. The ticket works without JavaScript, holds no text, and opens nothing: it can only
put text in a box of its own account's next page, after that account signs in.
"""

from __future__ import annotations

from flask import current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from tipline import db
from tipline.auth import drafts
from tipline.auth.models import StaffSession

SALT = "tipline-staff-draft-ticket"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)  # type: ignore[arg-type]


def ticket(staff_session: StaffSession) -> str:
    return _serializer().dumps(staff_session.id)


def _valid(value: str) -> int | None:
    """The session id a ticket names, if it is ours and not too old."""
    try:
        found = _serializer().loads(value, max_age=current_app.config["STAFF_SESSION_MAX_SECONDS"])
    except BadData:
        return None
    return found if isinstance(found, int) else None


def for_page(staff_session: StaffSession | None) -> str:
    """The ticket for a form on a page drawn for ``staff_session``; on a page drawn without
    one (a form shown again as sent), the ticket the form came with; else ""."""
    if staff_session is not None and not staff_session.enrolling:
        return ticket(staff_session)
    value = request.form.get(drafts.TICKET_FIELD, "") if request else ""
    return value if value and _valid(value) is not None else ""


def page_owner(session: Session) -> StaffSession | None:
    """The session named by this POST's ticket, if its text may be kept for that account.
    A ticket older than the longest session a person can have is not honoured."""
    staff_session_id = _valid(request.form.get(drafts.TICKET_FIELD, ""))
    return None if staff_session_id is None else drafts.page_owner(session, staff_session_id)


def keep_posted(owner: StaffSession, return_to: str) -> bool:
    """Keep this POST's text for ``owner``'s account, to give back on ``return_to``; commits.
    False when the form carried no text."""
    if not request.endpoint:
        return False
    draft = drafts.Draft(request.endpoint, return_to, drafts.keepable(request.form.to_dict()))
    kept = drafts.keep(db.session(), owner, current_app.config["DATA_KEY"], draft, db.utcnow())
    db.session().commit()
    return kept is not None
