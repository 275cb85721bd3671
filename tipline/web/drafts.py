"""Giving back text kept across the end of a session (tipline/auth/drafts.py), on the first
page shown after signing in again. On the tip page and the call-taker's form the text goes
back into the form it came from; on any other staff page it is shown above the page to copy.

Also the other way in: a staff form refused by the CSRF check because the person signed out,
or signed in again, in another window (the token in the page no longer matches the cookie)
has its text kept for the account its ticket names (web/draft_tickets.py), instead of the
plain "This form has expired" page."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from tipline import db
from tipline.auth import drafts
from tipline.tips.forms import AskForm
from tipline.triage.forms import LinkForm, NoteForm, ReasonForm, ReassignForm, StatusForm, TagForm
from tipline.web import draft_tickets, responses
from tipline.web.csrf import cross_origin_problem
from tipline.web.policy import (
    current_staff,
    current_staff_session,
    kept_sentence,
    page_to_return_to,
    why_signed_out,
)

RESTORE_KEY = "restore_draft"
F = TypeVar("F", bound=FlaskForm)

#: The tip page's forms by the endpoint they post to: (context key, form class, prefix).
TIP_PAGE_FORMS: dict[str, tuple[str, type[FlaskForm], str]] = {
    "triage.add_note": ("note_form", NoteForm, ""),
    "triage.status": ("status_form", StatusForm, ""),
    "triage.release": ("release_form", ReasonForm, "release"),
    "triage.reassign": ("reassign_form", ReassignForm, "reassign"),
    "triage.add_tag": ("tag_form", TagForm, ""),
    "triage.link": ("link_form", LinkForm, ""),
    "dialog.ask": ("ask_form", AskForm, ""),
}


def _take() -> None:
    """Before a staff GET: take back kept text once, if sign-in said there is some."""
    if request.method != "GET" or not session.get(RESTORE_KEY):
        return
    if request.endpoint == "staff.home":  # it only redirects: give it back on the next page
        return
    user = current_staff()
    if user is None:
        return
    session.pop(RESTORE_KEY, None)
    s = db.session()
    draft = drafts.take(s, user, current_app.config["DATA_KEY"], db.utcnow())
    s.commit()
    if draft is not None:
        g.restored_draft = draft
        flash(
            "What you were sending before you were signed out is back below. "
            "Check it and send it again.",
            "info",
        )


def kept_forms() -> dict[str, FlaskForm]:
    """The tip page's form refilled from kept text, by context key (or nothing)."""
    draft = g.pop("restored_draft", None)
    if draft is None or draft.endpoint not in TIP_PAGE_FORMS:
        if draft is not None:
            g.restored_draft = draft  # shown by the generic panel instead
        return {}
    key, form_class, prefix = TIP_PAGE_FORMS[draft.endpoint]
    form = form_class(formdata=MultiDict(draft.fields), prefix=prefix)
    return {key: form}


def restored_form(endpoint: str, form_class: type[F]) -> F | None:
    """``form_class`` refilled from kept text sent to ``endpoint``, or None."""
    draft = g.get("restored_draft")
    if draft is None or draft.endpoint != endpoint:
        return None
    g.pop("restored_draft")
    return form_class(formdata=MultiDict(draft.fields))


def draft_ticket() -> str:
    """The ticket for a staff form's hidden field (web/draft_tickets.py, and the template
    staff/_draft_ticket.html that every staff form with typed text includes). Signed once
    per request: a tip page has seven such forms, the oversight page two per review."""
    if "draft_ticket" not in g:
        g.draft_ticket = draft_tickets.for_page(current_staff_session())
    return g.draft_ticket


def _restored() -> dict[str, Any]:
    return {"restored_draft": g.get("restored_draft"), "draft_ticket": draft_ticket}


def handle_csrf_error(error: CSRFError) -> Response | tuple[str, int]:
    """A staff form whose CSRF token no longer matches this browser's session, sent from our
    own pages: its text is kept for its ticket's account. If that account is signed in here
    now, the page the form was on opens with the text back in it; otherwise sign-in does.
    Anything else gets the plain "This form has expired" page."""
    if request.method != "POST" or not request.path.startswith("/staff/"):
        return responses.handle_csrf_error(error)
    if cross_origin_problem() is not None:
        return responses.handle_csrf_error(error)
    owner = draft_tickets.page_owner(db.session())
    target = page_to_return_to()
    if owner is None or not draft_tickets.keep_posted(owner, target):
        return responses.handle_csrf_error(error)
    here = current_staff()
    if here is not None and here.id == owner.user_id:
        session[RESTORE_KEY] = True
        return redirect(target, code=303)
    flash(why_signed_out(owner) + kept_sentence(), "info")
    return redirect(url_for("account.login", next=target), code=303)


def init_app(app: Flask) -> None:
    """After the policy (gives kept text back to a signed-in person) and after responses
    (this CSRF handler replaces the plain one for staff forms, and falls back to it)."""
    app.before_request(_take)
    app.context_processor(_restored)
    app.register_error_handler(CSRFError, handle_csrf_error)
