"""Oversight figures for the supervisors' page: per staff member over a window, tips
read, claimed, closed as "no action", the median time from receipt to their claim, and
escalations on tips they held; members far from their peers are flagged with the reason.

"Read" counts the distinct tips whose text the member was shown, by any path that shows it:
opening the tip (``tip.viewed``), exporting it (``tip.exported``), and queue pages and search
results, which show a snippet or the matching words of each tip (``tips.listed``,
``tips.searched``, one event per page naming its tips). A detective who reads only through
search is counted like one who opens tips.

Each figure is one grouped query (counts from the audit log and tip columns, within the
window); only the claim times come back row by row, bounded by the window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import Select, func, select, true, union_all
from sqlalchemy.orm import Session

from tipline.audit.models import AuditEvent
from tipline.auth.models import StaffUser
from tipline.tips.models import Tip, TipStatus
from tipline.triage.access import TIP_READERS, require_supervisor
from tipline.triage.models import Escalation

#: Events about one tip (``object_id``) that showed its text to their actor.
TIP_READ_ACTIONS = ("tip.viewed", "tip.exported")
#: Events of a page that showed several tips' text (their refs in ``details["tips"]``).
LIST_READ_ACTIONS = ("tips.listed", "tips.searched")

#: Flag a member when a figure is more than this many times the median of their peers...
OUTLIER_FACTOR = 2.0
#: ...and they have at least this many claims (too few says nothing).
MIN_CLAIMS = 5
#: ...and, for the time to claim, they are at least this many minutes slower: a member who
#: claims in two minutes where peers take one is not a finding (and seconds are noise).
MIN_CLAIM_DELAY_GAP = 30


@dataclass
class StaffFigures:
    user: StaffUser
    #: Distinct tips whose text they were shown (opened, exported, listed or found).
    viewed: int = 0
    claimed: int = 0
    no_action: int = 0
    escalations: int = 0
    median_minutes_to_claim: float | None = None
    flags: list[str] = field(default_factory=list)

    @property
    def no_action_rate(self) -> float | None:
        return self.no_action / self.claimed if self.claimed else None


def _counts(session: Session, query: Select[int | None, int]) -> dict[int, int]:
    return {actor: count for actor, count in session.execute(query) if actor is not None}


def _peer_median(values: dict[int, float], me: int) -> float | None:
    others = [v for k, v in values.items() if k != me]
    return median(others) if others else None


def staff_figures(
    session: Session, supervisor: StaffUser, now: datetime, days: int = 90
) -> list[StaffFigures]:
    """Figures for every active detective and supervisor over the ``days`` before ``now``."""
    require_supervisor(supervisor)
    since = now - timedelta(days=days)
    staff = session.scalars(
        select(StaffUser)
        .where(StaffUser.role.in_(list(TIP_READERS)), StaffUser.active.is_(True))
        .order_by(StaffUser.username)
    )
    rows = {user.id: StaffFigures(user) for user in staff}

    def events(action: str) -> Select[int | None, int]:
        return (
            select(AuditEvent.actor_id, func.count())
            .where(AuditEvent.action == action, AuditEvent.occurred_at >= since)
            .group_by(AuditEvent.actor_id)
        )

    viewed = _counts(session, _tips_read(session, since))
    claimed = _counts(session, events("tip.claimed"))
    no_action = _counts(
        session,
        select(Tip.closed_by_id, func.count())
        .where(Tip.status == TipStatus.NO_ACTION, Tip.closed_at >= since)
        .group_by(Tip.closed_by_id),
    )
    escalations = _counts(
        session,
        select(Escalation.holder_id, func.count())
        .where(Escalation.created_at >= since)
        .group_by(Escalation.holder_id),
    )
    waits: dict[int, list[float]] = defaultdict(list)
    first_claims = session.execute(
        select(AuditEvent.actor_id, func.min(AuditEvent.occurred_at), Tip.received_at)
        .join(Tip, Tip.public_ref == AuditEvent.object_id)
        .where(
            AuditEvent.object_type == "tip",
            AuditEvent.action == "tip.claimed",
            AuditEvent.occurred_at >= since,
        )
        .group_by(AuditEvent.actor_id, Tip.id, Tip.received_at)
    )
    for actor, claimed_at, received_at in first_claims:
        if actor is not None:
            waits[actor].append(max(0.0, (claimed_at - received_at).total_seconds() / 60))

    for user_id, row in rows.items():
        row.viewed = viewed.get(user_id, 0)
        row.claimed = claimed.get(user_id, 0)
        row.no_action = no_action.get(user_id, 0)
        row.escalations = escalations.get(user_id, 0)
        if waits.get(user_id):
            row.median_minutes_to_claim = median(waits[user_id])
    _flag(rows)
    return list(rows.values())


def _tips_read(session: Session, since: datetime) -> Select[int | None, int]:
    """Per actor, the distinct tips shown to them since ``since``: the object of each
    single-tip read event, and each ref listed in a queue or search page's event (unnested
    from the JSON list by the database: json_each on SQLite, json_array_elements_text on
    PostgreSQL)."""
    single = select(AuditEvent.actor_id.label("actor"), AuditEvent.object_id.label("tip")).where(
        AuditEvent.action.in_(TIP_READ_ACTIONS), AuditEvent.occurred_at >= since
    )
    if session.get_bind().dialect.name == "postgresql":
        refs = func.json_array_elements_text(AuditEvent.details["tips"]).table_valued("value")
    else:
        refs = func.json_each(AuditEvent.details, "$.tips").table_valued("value")
    listed = (
        select(AuditEvent.actor_id.label("actor"), refs.c.value.label("tip"))
        .select_from(AuditEvent)
        .join(refs, true())
        .where(AuditEvent.action.in_(LIST_READ_ACTIONS), AuditEvent.occurred_at >= since)
    )
    shown = union_all(single, listed).subquery()
    return select(shown.c.actor, func.count(func.distinct(shown.c.tip))).group_by(shown.c.actor)


def _flag(rows: dict[int, StaffFigures]) -> None:
    """Flag members whose figure is more than OUTLIER_FACTOR times their peers' median."""
    enough = {k: r for k, r in rows.items() if r.claimed >= MIN_CLAIMS}
    rates = {k: r.no_action_rate or 0.0 for k, r in enough.items()}
    minutes = {
        k: r.median_minutes_to_claim
        for k, r in enough.items()
        if r.median_minutes_to_claim is not None
    }
    per_claim = {k: r.escalations / r.claimed for k, r in enough.items()}
    checks = (
        (rates, 0, "closes {mine:.0%} of claimed tips as “No action”; peers {peers:.0%}"),
        (
            minutes,
            MIN_CLAIM_DELAY_GAP,
            "takes {mine:.0f} min to claim a tip (median); peers {peers:.0f} min",
        ),
        (per_claim, 0, "has {mine:.2f} escalations per claimed tip; peers {peers:.2f}"),
    )
    for values, gap, sentence in checks:
        for user_id, mine in values.items():
            peers = _peer_median(values, user_id)
            if peers is None or mine - peers < gap:
                continue
            if (peers == 0 and mine > 0) or (peers > 0 and mine > OUTLIER_FACTOR * peers):
                rows[user_id].flags.append(sentence.format(mine=mine, peers=peers))
