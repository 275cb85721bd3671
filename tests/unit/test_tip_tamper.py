"""Tips are covered by the audit log: someone with rights on the database rewrites a tip,
closes it, changes its priority, deletes an answer, a photo or a note, or inserts a fake
"verified OK" row. `tipline audit verify` (or the page) notices each, on SQLite and
PostgreSQL; and the application role may not make the first changes at all."""

import io

import pytest
from PIL import Image
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from tipline.audit.models import AuditEvent
from tipline.auth.models import Role
from tipline.db import utcnow
from tipline.tips import dialog, integrity, receipts
from tipline.tips import services as tips
from tipline.tips.models import TipStatus
from tipline.triage import retention, verification
from tipline.triage import services as triage

from ..conftest import as_dba, sign_in

KEY = receipts.receipt_key("k" * 40)


def png(colour=(200, 10, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def worked(app, session, runner, make_staff):
    """A tip with a photo, an answer with a photo, a note, and a second tip closed properly."""
    detective = make_staff(Role.DETECTIVE, "det")
    data_key = app.config["DATA_KEY"]
    tip, _ = tips.submit_tip(
        session,
        tips.TipReport("Saw her at the ferry", seen_where="Algiers"),
        KEY,
        photos=[png()],
        data_key=data_key,
    )
    dialog.answer(session, tip, "She wore a red coat", photos=[png((0, 0, 200))], data_key=data_key)
    triage.claim_tip(session, detective, tip)
    triage.add_note(session, detective, tip, "Call the ferry office")
    closed, _ = tips.submit_tip(session, tips.TipReport("Old sighting"), KEY)
    triage.claim_tip(session, detective, closed)
    triage.change_status(session, detective, closed, TipStatus.FORWARDED, "JPSO")
    triage.change_status(session, detective, closed, TipStatus.CLOSED, "Arrested")
    session.commit()
    assert runner.invoke(args=["audit", "new-signing-key"]).exit_code == 0
    return tip, closed


def verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_intact_tips_verify(worked, runner, session):
    assert verification.verify_tips(session) is None
    code, output = verify(runner)
    assert code == 0, output


@pytest.mark.parametrize(
    ("statement", "expect"),
    [
        ("UPDATE tip SET narrative = 'Nothing seen' WHERE id = :tip", "rewritten"),
        ("UPDATE tip SET seen_where = 'Metairie' WHERE id = :tip", "rewritten"),
        ("UPDATE tip SET language = 'vi' WHERE id = :tip", "rewritten"),
        ("UPDATE tip SET priority = 'low', priority_rank = 3 WHERE id = :tip", "priority"),
        (
            "UPDATE tip SET status = 'closed', closed_at = CURRENT_TIMESTAMP WHERE id = :tip",
            "no event closed it",
        ),
        (
            "DELETE FROM tip_attachment WHERE message_id IS NOT NULL;"
            " DELETE FROM tip_message WHERE tip_id = :tip",
            "missing",
        ),
        ("UPDATE tip_message SET body = 'blue coat' WHERE tip_id = :tip", "differs"),
        ("DELETE FROM tip_attachment WHERE tip_id = :tip", "photo"),
        ("DELETE FROM tip_note", "note"),
        ("UPDATE tip_note SET body = 'never mind'", "differs"),
    ],
)
def test_each_tampering_with_a_tip_fails_verify(app, worked, runner, statement, expect):
    tip, _closed = worked
    with as_dba(app) as conn:
        for part in statement.split(";"):
            conn.execute(text(part), {"tip": tip.id})
    code, output = verify(runner)
    assert code == 1, output
    assert "FAILED" in output and expect in output and tip.public_ref in output


def test_a_tip_received_before_the_language_was_hashed_still_verifies(
    app, worked, runner, session, monkeypatch
):
    """Tips stored under the first hash (no language, no version named in the event) keep
    verifying; tips received since carry the version that covers the language."""

    def first_version(tip, photos):  # what tip.received committed to before 2026-12-07
        return {
            "content": integrity.tip_digest(tip, 1),
            "photo_digests": [integrity.photo_digest(p) for p in photos],
        }

    monkeypatch.setattr(integrity, "received_details", first_version)
    old, _ = tips.submit_tip(session, tips.TipReport("Seen at the levee"), KEY, language="es")
    session.commit()
    monkeypatch.undo()
    event = session.scalars(select(AuditEvent).where(AuditEvent.object_id == old.public_ref)).one()
    assert "content_version" not in event.details
    assert integrity.received_version(event.details) == 1
    new_tip = worked[0]
    new_event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.object_id == new_tip.public_ref, AuditEvent.action == "tip.received"
        )
    ).one()
    assert new_event.details["content_version"] == integrity.CONTENT_VERSION == 2
    code, output = verify(runner)
    assert code == 0, output
    # The old hash never covered the language; its other fields still are.
    with as_dba(app) as conn:
        conn.execute(text("UPDATE tip SET narrative = 'x' WHERE id = :tip"), {"tip": old.id})
    code, output = verify(runner)
    assert code == 1 and old.public_ref in output and "rewritten" in output, output


def test_a_fake_verified_row_shows_as_not_trusted(app, worked, runner, client, session, make_staff):
    assert verify(runner)[0] == 0
    sign_in(client, make_staff(Role.SUPERVISOR, "sup").username)
    assert "<strong>Intact.</strong>" in client.get("/staff/audit").get_data(as_text=True)
    session.execute(
        text(
            "INSERT INTO audit_verification (checked_at, ok, events_checked, "
            "checkpoints_checked, tips_counted, received_events_counted, problem) "
            "VALUES (:at, :ok, 1, 0, 1, 1, '')"
        ),
        {"at": utcnow(), "ok": True},
    )
    session.commit()
    page = client.get("/staff/audit").get_data(as_text=True)
    assert "Not trusted" in page and "<strong>Intact.</strong>" not in page


def test_app_role_cannot_rewrite_what_was_submitted_but_still_purges(
    app, runner, database_url, app_role, worked
):
    tip, closed = worked
    assert runner.invoke(args=["db", "grant-app-role", app_role]).exit_code == 0
    as_app = create_engine(make_url(database_url).set(username=app_role))
    try:
        for statement in [
            "UPDATE tip SET narrative = 'x' WHERE id = :tip",
            "UPDATE tip SET language = 'vi' WHERE id = :tip",
            "UPDATE tip SET priority = priority WHERE id = :tip AND false",  # allowed: control
            "UPDATE tip_message SET body = 'x'",
            "DELETE FROM tip_message",
            "DELETE FROM tip_attachment",
            "DELETE FROM tip_note",
            "UPDATE tip_note SET body = 'x'",
        ]:
            if "AND false" in statement:
                with as_app.begin() as conn:
                    conn.execute(text(statement), {"tip": tip.id})
                continue
            with pytest.raises(ProgrammingError, match="permission denied"), as_app.begin() as c:
                c.execute(text(statement), {"tip": tip.id})
        info = dict(app.extensions["tipline.sessionmaker"].kw["info"])
        with Session(as_app, info=info) as s:
            # The retention purge still empties a closed tip, through the definer function.
            target = s.get(type(closed), closed.id)
            retention.purge_tip(s, target, utcnow())
            s.commit()
            assert target.narrative == "" and target.purged_at is not None
            with pytest.raises(ProgrammingError, match="open tip"):
                s.execute(text("SELECT tipline_purge_tip_contents(:id)"), {"id": tip.id})
    finally:
        as_app.dispose()
    code, output = verify(runner)
    assert code == 0, output
