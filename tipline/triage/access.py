"""Who may read and work tips. The web policy checks routes; services check again."""

from __future__ import annotations

from tipline.auth.models import Role, StaffUser

#: Roles that read tip contents. PIOs, admins and call-takers never do.
TIP_READERS = frozenset({Role.DETECTIVE, Role.SUPERVISOR})


class NotAllowed(PermissionError):
    """The staff member may not do this; the message says why in a plain sentence."""


def require_reader(viewer: StaffUser) -> None:
    if viewer.role not in TIP_READERS or not viewer.active:
        raise NotAllowed("Your role does not give access to tips.")


def require_supervisor(actor: StaffUser) -> None:
    if actor.role is not Role.SUPERVISOR or not actor.active:
        raise NotAllowed("Only a supervisor can do this.")
