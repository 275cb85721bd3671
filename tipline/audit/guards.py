"""Rows the application never changes or removes, refused at the ORM.

``@append_only`` (the audit log) refuses updates and deletes; ``@undeletable`` (tips) refuses
deletes. Both are checked three ways: the mapper's before_update/before_delete events, the
session's before_flush (so nothing reaches the database), and do_orm_execute for bulk
``update()``/``delete()`` statements, which bypass the unit of work. The database refuses
them too: triggers (migration 0601) and, on PostgreSQL, the application role's grants.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

T = TypeVar("T", bound=type)

_NO_UPDATE: dict[type, str] = {}
_NO_DELETE: dict[type, str] = {}


class ProtectedRowError(RuntimeError):
    """An attempt to change an audit row, or to delete an audit row or a tip."""


def _refuse(verb: str, table: str) -> ProtectedRowError:
    return ProtectedRowError(f"Rows of {table} are never {verb} by the application.")


def append_only(cls: T) -> T:
    """Refuse updates and deletes of ``cls`` rows through the ORM."""
    table: str = getattr(cls, "__tablename__")  # noqa: B009 - a mapped class, not any type
    _NO_UPDATE[cls] = table
    _NO_DELETE[cls] = table

    def before_update(_mapper: Any, _conn: Any, _target: Any) -> None:
        raise _refuse("updated", table)

    event.listen(cls, "before_update", before_update)
    return undeletable(cls)


def undeletable(cls: T) -> T:
    """Refuse deletes of ``cls`` rows through the ORM."""
    table: str = getattr(cls, "__tablename__")  # noqa: B009 - a mapped class, not any type
    _NO_DELETE[cls] = table

    def before_delete(_mapper: Any, _conn: Any, _target: Any) -> None:
        raise _refuse("deleted", table)

    if not event.contains(cls, "before_delete", before_delete):
        event.listen(cls, "before_delete", before_delete)
    return cls


def refuse_in_flush(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    for obj in session.deleted:
        for cls, table in _NO_DELETE.items():
            if isinstance(obj, cls):
                raise _refuse("deleted", table)
    for obj in session.dirty:
        for cls, table in _NO_UPDATE.items():
            if isinstance(obj, cls) and session.is_modified(obj):
                raise _refuse("updated", table)


def refuse_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    protected = _NO_DELETE if state.is_delete else _NO_UPDATE
    if table is not None and table in protected.values():
        raise _refuse("deleted" if state.is_delete else "updated", table)
