"""The list of units administrators keep. A unit is never deleted: notices and accounts name
it, and the audit trail refers to it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth.models import Role, StaffUser, Unit


class UnitRefused(ValueError):
    """The unit cannot be added; the message says why in a plain sentence."""


def list_units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.name)))


def unit_by_id(session: Session, unit_id: int | None) -> Unit | None:
    return session.get(Unit, unit_id) if unit_id else None


def unit_named(session: Session, name: str) -> Unit | None:
    return session.scalar(select(Unit).where(func.lower(Unit.name) == name.strip().lower()))


def staff_in_unit(session: Session, unit_id: int) -> int:
    return session.scalar(select(func.count()).where(StaffUser.unit_id == unit_id)) or 0


def add_unit(session: Session, actor: StaffUser | str, name: str) -> Unit:
    """Add a unit to the list (administrators; scripts pass a label as ``actor``)."""
    if isinstance(actor, StaffUser) and (actor.role is not Role.ADMIN or not actor.active):
        raise UnitRefused("Only an administrator can add a unit.")
    name = " ".join(name.split())
    if not name or len(name) > 64:
        raise UnitRefused("A unit's name is 1 to 64 characters, for example “Homicide”.")
    if unit_named(session, name) is not None:
        raise UnitRefused(f"There is already a unit named “{name}”.")
    unit = Unit(name=name)
    session.add(unit)
    session.flush()
    audit.record(session, actor, "unit.created", "unit", unit.id, name=name)
    return unit
