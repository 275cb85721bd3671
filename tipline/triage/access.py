"""Who may read and work tips, and the refusals the triage services raise. The web policy
checks routes; services check again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tipline.audit import NotAllowed
from tipline.auth.models import TIP_READERS, Role, StaffUser

if TYPE_CHECKING:
    from tipline.tips.models import Tip

__all__ = ["TIP_READERS", "NotAllowed", "require_reader"]


def require_reader(viewer: StaffUser) -> None:
    if viewer.role not in TIP_READERS or not viewer.active:
        raise NotAllowed("Your role does not give access to tips.")


def require_supervisor(actor: StaffUser) -> None:
    if actor.role is not Role.SUPERVISOR or not actor.active:
        raise NotAllowed("Only a supervisor can do this.")


class TransitionRefused(ValueError):
    """The change is not allowed; the message is a plain sentence saying why."""


class AlreadyClaimed(TransitionRefused):
    pass


class NeedsSupervisor(NotAllowed):
    pass


def require_holder(actor: StaffUser, tip: Tip) -> None:
    """Only the detective holding the claim, or a supervisor, works a tip."""
    require_reader(actor)
    if actor.role is Role.SUPERVISOR:
        return
    if tip.claimed_by_id != actor.id:
        raise NotAllowed("Claim this tip before working on it.")


def clean_reason(reason: str) -> str:
    return " ".join(reason.split())[:2000]
