"""Giving back text kept across a session timeout (tipline/auth/drafts.py), on the first page
shown after signing in again. On the tip page the text goes back into the form it came from;
on any other staff page it is shown above the page to copy."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, flash, g, request, session
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from tipline import db
from tipline.auth import drafts
from tipline.tips.forms import AskForm
from tipline.triage.forms import LinkForm, NoteForm, ReasonForm, ReassignForm, StatusForm, TagForm
from tipline.web.policy import current_staff

RESTORE_KEY = "restore_draft"

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


def _restored() -> dict[str, Any]:
    return {"restored_draft": g.get("restored_draft")}


def init_app(app: Flask) -> None:
    app.before_request(_take)
    app.context_processor(_restored)
