"""Someone with full rights on the database edits the log directly in SQL; `tipline audit
verify` notices every kind of change and names the first bad row."""

import json
import re

import pytest
from sqlalchemy import func, select, text

from tipline.audit.models import AuditEvent, AuditVerification
from tipline.auth.models import Role
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import Tip
from tipline.triage import services as triage

from ..conftest import as_dba, sign_in

KEY = receipts.receipt_key("k" * 40)


@pytest.fixture
def log(app, session, runner, make_staff):
    """A staff account (created, enrolled), three tips, a detective viewing each; a checkpoint."""
    detective = make_staff(Role.DETECTIVE, "det")
    for n in range(3):
        tip, _ = tips.submit_tip(session, tips.TipReport(f"Seen {n}"), KEY)
        session.commit()
        triage.view_tip(session, detective, tip.public_ref)
        session.commit()
    assert runner.invoke(args=["audit", "new-signing-key"]).exit_code == 0
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    seqs = session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert len(seqs) >= 7 and seqs == list(range(1, len(seqs) + 1))
    session.rollback()  # end the read, so later reads see what the commands wrote
    return session


def verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_an_intact_log_verifies_and_the_result_is_kept(log, runner):
    events = log.scalar(select(func.count()).select_from(AuditEvent))
    log.rollback()  # end the read, so the next one sees what verify wrote
    code, output = verify(runner)
    assert code == 0, output
    assert f"{events} events checked, 1 signed checkpoints" in output
    assert "Tips: 3; tip.received events: 3." in output
    assert "OK: the audit log is intact." in output
    kept = log.scalars(select(AuditVerification)).one()
    assert kept.ok and kept.events_checked == events and kept.problem == ""


def _id_of(conn, seq: int) -> int:
    return conn.scalar(text("SELECT id FROM audit_event WHERE seq = :s"), {"s": seq})


LAST = -1  # stands for the highest sequence number after the tampering

TAMPERING = {
    "edit a field": (
        ["UPDATE audit_event SET actor_label = 'someone-else' WHERE seq = 4"],
        4,
        "its contents do not match its hash",
    ),
    "edit the details": (
        ["UPDATE audit_event SET details = '{\"there_now\": true}' WHERE seq = 2"],
        2,
        "its contents do not match its hash",
    ),
    "delete a row": (
        ["DELETE FROM audit_event WHERE seq = 3"],
        4,
        "sequence 3 is missing before it: rows were deleted",
    ),
    "delete the first row": (
        ["DELETE FROM audit_event WHERE seq = 1"],
        2,
        "sequence 1 is missing before it",
    ),
    "insert a forged row": (
        [
            "INSERT INTO audit_event (seq, occurred_at, actor_label, action, object_type,"
            " object_id, details, prev_hash, row_hash)"
            " SELECT seq + 1, occurred_at, 'public', 'tip.received', 'tip', 'forged', details,"
            " row_hash, row_hash FROM audit_event"
            " WHERE seq = (SELECT MAX(seq) FROM audit_event)"
        ],
        LAST,
        "its contents do not match its hash: the row was edited or forged",
    ),
    "insert a row in the middle": (
        [
            "UPDATE audit_event SET seq = -seq WHERE seq >= 5",
            "UPDATE audit_event SET seq = 1 - seq WHERE seq < 0",
            "INSERT INTO audit_event (seq, occurred_at, actor_label, action, object_type,"
            " object_id, details, prev_hash, row_hash)"
            " SELECT 5, occurred_at, actor_label, action, object_type, object_id, details,"
            " row_hash, row_hash FROM audit_event WHERE seq = 4",
        ],
        5,
        "edited or forged",
    ),
    "swap two rows": (
        [
            "UPDATE audit_event SET seq = -1 WHERE seq = 3",
            "UPDATE audit_event SET seq = 3 WHERE seq = 5",
            "UPDATE audit_event SET seq = 5 WHERE seq = -1",
        ],
        3,
        "it does not link to the row before it",
    ),
    "truncate the tail": (
        ["DELETE FROM audit_event WHERE seq > 5"],
        6,
        "the log ends at sequence 5, but the checkpoint",
    ),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_verify_catches_tampering_and_names_the_first_bad_row(app, log, runner, kind):
    statements, bad_seq, message = TAMPERING[kind]
    with as_dba(app) as conn:
        for statement in statements:
            conn.execute(text(statement))
        if bad_seq == LAST:
            bad_seq = conn.scalar(text("SELECT MAX(seq) FROM audit_event"))
        bad_id = _id_of(conn, bad_seq)
    code, output = verify(runner)
    assert code == 1, output
    failure = next(line for line in output.splitlines() if line.startswith("FAILED:"))
    assert message in failure
    if bad_id is None:  # the row is gone: named by its sequence number
        assert f"FAILED: sequence {bad_seq}:" in failure
    else:
        assert f"FAILED: row id {bad_id} (sequence {bad_seq}):" in failure
    kept = log.scalars(select(AuditVerification)).one()
    assert not kept.ok and kept.first_bad_seq == bad_seq and kept.first_bad_id == bad_id


def test_a_tip_without_its_received_event_fails_verification(app, log, runner):
    with as_dba(app) as conn:
        conn.execute(
            text(
                "INSERT INTO tip (public_ref, receipt_hash, seen_when, seen_where, narrative,"
                " there_now, status, received_at, updated_at) SELECT 'sneaked-in', :h, '', '',"
                " 'x', there_now, status, received_at, updated_at FROM tip LIMIT 1"
            ),
            {"h": b"\x01" * 32},
        )
    code, output = verify(runner)
    assert code == 1
    assert "Tips: 4; tip.received events: 3." in output
    assert "FAILED: there are 4 tips but 3 tip.received events" in output
    assert log.scalar(select(Tip.id).where(Tip.public_ref == "sneaked-in"))


def test_a_rewritten_or_unsigned_checkpoint_fails_verification(app, log, runner):
    path = app.config["AUDIT_CHECKPOINT_FILE"]
    with open(path) as f:
        entry = json.loads(f.readline())
    entry["seq"] = 5  # "the log only ever had five rows"
    with open(path, "w") as f:
        f.write(json.dumps(entry) + "\n")
    code, output = verify(runner)
    assert code == 1
    assert re.search(
        r"FAILED: checkpoint line 1 of .* is not signed by the audit signing key", output
    )


def test_truncation_after_the_last_checkpoint_is_noted_not_proven(app, log, runner, session):
    """The limit of checkpoints, said out loud: the newest rows are covered only once the
    next checkpoint is written."""
    tips.submit_tip(session, tips.TipReport("Later"), KEY)
    session.commit()
    code, output = verify(runner)
    assert code == 0
    assert "Note: 1 events are newer than the last checkpoint" in output


def test_supervisor_page_shows_the_failed_verification(app, log, runner, client, make_staff):
    with as_dba(app) as conn:
        conn.execute(text("UPDATE audit_event SET action = 'tip.ignored' WHERE seq = 4"))
        bad_id = _id_of(conn, 4)
    assert verify(runner)[0] == 1
    sign_in(client, make_staff(Role.SUPERVISOR, "sup").username)
    page = client.get("/staff/audit").get_data(as_text=True)
    assert "Verification failed" in page
    assert f"row id {bad_id} (sequence 4): its contents do not match its hash" in page


def test_checkpoints_without_their_signing_key_fail_verification(app, log, runner):
    import os

    os.remove(app.config["AUDIT_SIGNING_KEY_FILE"])
    code, output = verify(runner)
    assert code == 1
    assert "FAILED: the checkpoints cannot be checked: There is no audit signing key" in output


def test_checkpoint_without_a_signing_key_says_how_to_make_one(runner, tmp_path):
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1
    assert "tipline audit new-signing-key" in result.output
    assert "Traceback" not in result.output
    again = runner.invoke(args=["audit", "new-signing-key"])
    assert again.exit_code == 0
    refused = runner.invoke(args=["audit", "new-signing-key"])
    assert refused.exit_code == 1 and "already exists" in refused.output
