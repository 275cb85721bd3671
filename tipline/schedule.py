"""When each periodic job last ran, kept in the database, so a job whose time came while the
worker was down runs as soon as the worker is back (on start, and at each minute's check).

A schedule is huey's ``crontab`` test (minute by minute); the slot a job missed is the latest
minute before now, within ``LOOK_BACK``, that the test accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tipline.db import Base

#: How far back a missed slot is looked for (a daily job missed for two days runs once).
LOOK_BACK = timedelta(days=2)


class JobRun(Base):
    """The last time a periodic job finished."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    finished_at: Mapped[datetime]


def last_slot(schedule: Callable[[datetime], bool], now: datetime) -> datetime | None:
    """The latest minute at or before ``now`` (within LOOK_BACK) that ``schedule`` accepts."""
    minute = now.replace(second=0, microsecond=0)
    earliest = minute - LOOK_BACK
    while minute > earliest:
        if schedule(minute.replace(tzinfo=None)):
            return minute
        minute -= timedelta(minutes=1)
    return None


def missed(
    session: Session, name: str, schedule: Callable[[datetime], bool], now: datetime
) -> bool:
    """Whether ``name``'s latest slot passed without a run finishing after it. A job never
    recorded counts as run (a new install does not run every daily job at once)."""
    slot = last_slot(schedule, now)
    if slot is None:
        return False
    finished = session.scalar(select(JobRun.finished_at).where(JobRun.name == name))
    return finished is not None and finished < slot


def record_run(session: Session, name: str, finished_at: datetime) -> None:
    """Remember that ``name`` finished now (the caller commits)."""
    found = session.get(JobRun, name)
    if found is None:
        session.add(JobRun(name=name, finished_at=finished_at))
    elif found.finished_at < finished_at:
        found.finished_at = finished_at
    session.flush()
