"""What the staff tip page shows beside the tip: its notice and the notice's timeline, notes,
tags, links and suggested duplicates, and the forms for working it. Shared by the page and by
the action views that re-render it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from wtforms import SelectChoice

from tipline.auth.models import Role, StaffUser
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


def context(session: Session, user: StaffUser, tip: Tip, config: Any) -> dict[str, Any]:
    moves = triage.allowed_moves(tip)
    status_form = StatusForm(formdata=None)
    status_form.status.choices = [SelectChoice(s.value, s.label) for s in moves]
    priority_form = PriorityForm(formdata=None, priority=tip.priority.value)
    reassign_form = None
    if user.role is Role.SUPERVISOR:
        reassign_form = ReassignForm(formdata=None, prefix="reassign")
        reassign_form.to.choices = [
            SelectChoice(str(s.id), f"{s.username} ({s.role.label})")
            for s in triage.assignable_staff(session, user)
        ]
    follow = follows.follow_of(session, user, tip.notice) if tip.notice else None
    return {
        "holder": user.role is Role.SUPERVISOR or tip.claimed_by_id == user.id,
        "notes": triage.notes_for(session, user, tip),
        "tags": triage.tags_for(session, [tip.id])[tip.id],
        "links": triage.links_for(session, user, tip),
        "candidates": search.similar_tips(session, user, tip),
        "timeline": queue_views.notice_timeline(session, user, tip.notice) if tip.notice else [],
        "moves": moves,
        "status_form": status_form,
        "priority_form": priority_form,
        "note_form": NoteForm(formdata=None),
        "tag_form": TagForm(formdata=None),
        "link_form": LinkForm(formdata=None),
        "release_form": ReasonForm(formdata=None, prefix="release"),
        "reassign_form": reassign_form,
        "follow": follow,
        "follow_form": FollowForm(formdata=None),
        # An urgent "no action" proposal waiting for a supervisor's confirmation.
        "pending_closure": closures.pending_confirmation(session, tip),
    }
