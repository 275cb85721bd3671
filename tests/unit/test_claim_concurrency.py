"""Claiming is exactly-once under concurrency: 8 workers, each with its own session and
connection, press "Next tip" until 2,000 tips are gone. On PostgreSQL this exercises
FOR UPDATE SKIP LOCKED; on SQLite the guarded UPDATE ... RETURNING."""

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from tipline.audit.models import AuditEvent
from tipline.auth.models import Role
from tipline.tips.models import Tip, TipStatus
from tipline.triage import services as triage

from ..triage_data import insert_tips

WORKERS = 8
TIPS = 2000


@pytest.mark.slow
def test_eight_workers_claim_each_of_2000_tips_exactly_once(app, session, make_staff):
    detectives = [make_staff(Role.DETECTIVE, f"det{i}") for i in range(WORKERS)]
    insert_tips(session, TIPS)
    maker = app.extensions["tipline.sessionmaker"]
    claimed: dict[int, list[int]] = {d.id: [] for d in detectives}
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def work(detective) -> None:
        try:
            start.wait()
            while True:
                with maker() as s:
                    tip = triage.claim_next_tip(s, detective)
                    if tip is None:
                        return
                    s.commit()
                    claimed[detective.id].append(tip.id)
        except BaseException as error:  # reported below; a thread must not die silently
            errors.append(error)

    threads = [threading.Thread(target=work, args=(d,)) for d in detectives]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    every = [tip_id for ids in claimed.values() for tip_id in ids]
    assert len(every) == TIPS  # none lost
    assert len(set(every)) == TIPS  # none twice
    assert sum(1 for ids in claimed.values() if ids) > 1  # the workers really raced

    owners = dict(session.execute(select(Tip.id, Tip.claimed_by_id)).all())
    for detective_id, ids in claimed.items():
        assert all(owners[i] == detective_id for i in ids)
    left = session.scalar(select(func.count()).select_from(Tip).where(Tip.status == TipStatus.NEW))
    assert left == 0
    claims = Counter(
        session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "tip.claimed"))
    )
    assert len(claims) == TIPS and set(claims.values()) == {1}
