"""What the staff tip page shows beside the tip: its notice and the notice's timeline, notes,
tags, links and suggested duplicates, and the forms for working it. Shared by the page and by
the action views that re-render it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import make_response, render_template
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from tipline.auth.models import Role, StaffUser
from tipline.db import utcnow
from tipline.tips import fields
from tipline.tips.models import Tip
from tipline.triage import closures, follows, search
from tipline.triage import queue as queue_views
from tipline.triage import services as triage
from tipline.triage.forms import (
    FollowForm,
    LinkForm,
    NoteForm,
    PriorityForm,
    ReasonForm,
    ReassignForm,
    StatusForm,
    TagForm,
)


def context(
    session: Session,
    user: StaffUser,
    tip: Tip,
    config: Any,
    kept: Mapping[str, FlaskForm] | None = None,
) -> dict[str, Any]:
    """The page's data and forms; ``kept`` holds forms to show as they were sent (a failed
    action's form with its errors, or text restored after signing in again) by context key."""
    kept = kept or {}
    moves = triage.allowed_moves(tip)
    status_form = kept.get("status_form") or StatusForm(formdata=None)
    status_form.status.choices = [SelectChoice(s.value, s.label) for s in moves]
    priority_form = kept.get("priority_form") or PriorityForm(
        formdata=None, priority=tip.priority.value
    )
    reassign_form = None
    if user.role is Role.SUPERVISOR:
        reassign_form = kept.get("reassign_form") or ReassignForm(formdata=None, prefix="reassign")
        reassign_form.to.choices = [
            SelectChoice(str(s.id), f"{s.username} ({s.role.label})")
            for s in triage.assignable_staff(session, user)
        ]
    follow = follows.follow_of(session, user, tip.notice) if tip.notice else None
    return {
        "detail_fields": fields.DETAIL_FIELDS,
        "holder": user.role is Role.SUPERVISOR or tip.claimed_by_id == user.id,
        "notes": triage.notes_for(session, user, tip),
        "tags": triage.tags_for(session, [tip.id])[tip.id],
        "links": triage.links_for(session, user, tip),
        "candidates": search.similar_tips(session, user, tip),
        "timeline": queue_views.notice_timeline(session, user, tip.notice) if tip.notice else [],
        "moves": moves,
        "status_form": status_form,
        "priority_form": priority_form,
        "note_form": kept.get("note_form") or NoteForm(formdata=None),
        "tag_form": kept.get("tag_form") or TagForm(formdata=None),
        "link_form": kept.get("link_form") or LinkForm(formdata=None),
        "release_form": kept.get("release_form") or ReasonForm(formdata=None, prefix="release"),
        # The dialog part's question form (templates/staff/_dialog.html).
        "kept_ask_form": kept.get("ask_form"),
        "reassign_form": reassign_form,
        "follow": follow,
        "follow_form": FollowForm(formdata=None),
        # An urgent "no action" proposal waiting for a supervisor's confirmation.
        "pending_closure": closures.pending_confirmation(session, tip),
    }


def render(
    session: Session,
    user: StaffUser,
    tip: Tip,
    config: Any,
    kept: Mapping[str, FlaskForm] | None = None,
    status: int = 200,
) -> Response:
    """The staff tip page, with ``kept`` forms shown as they were sent."""
    page = render_template(
        "staff/tip.html", tip=tip, now=utcnow(), **context(session, user, tip, config, kept)
    )
    return make_response(page, status)
