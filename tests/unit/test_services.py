"""Services: the rules, tested without a request."""

import pytest
from sqlalchemy import event, func, select

from tipline import audit
from tipline.audit.models import AuditEvent
from tipline.auth import services as auth
from tipline.auth.models import Role
from tipline.demo import DEMO_NOTICE
from tipline.notices import services as notices
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import Tip, TipStatus, TipSubmission
from tipline.triage import queue
from tipline.triage import services as triage

from ..conftest import PASSWORD

KEY = receipts.receipt_key("k" * 40)


def test_submitted_tip_is_audited_in_the_same_transaction(session, published_notice):
    tip, _code = tips.submit_tip(
        session, tips.TipReport("Saw her at the bus stop", there_now=True), KEY, published_notice
    )
    events = audit.events_for(session, "tip", tip.public_ref)
    assert [e.action for e in events] == ["tip.received"]
    assert events[0].actor_label == "public" and events[0].actor_id is None
    details = dict(events[0].details)
    assert len(details.pop("content")) == 64 and details.pop("photo_digests") == []
    assert details.pop("content_version") == 2
    assert details == {"notice": published_notice.slug, "there_now": True}
    session.rollback()
    # Rolled back together: neither the tip nor its audit row exists.
    assert session.scalar(select(func.count()).select_from(Tip)) == 0
    assert (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "tip.received")
        )
        == 0
    )


def test_a_tip_its_submission_and_its_audit_event_are_written_without_a_flush(
    session, published_notice, app
):
    # Plain INSERTs: the unit of work cost a tip more than its statements did.
    flushes = []
    event.listen(session, "after_flush", lambda *_: flushes.append(1))
    tip, _code = tips.submit_tip(
        session,
        tips.TipReport("Saw her at the bus stop"),
        KEY,
        published_notice,
        form_token="a-form-token-of-thirty-two-chars",
        data_key=app.config["DATA_KEY"],
    )
    assert flushes == []
    assert tip.id is not None
    assert tip in session and not session.new and not session.dirty
    assert session.scalar(select(TipSubmission.tip_id)) == tip.id
    [received] = audit.events_for(session, "tip", tip.public_ref)
    assert received.action == "tip.received"


def test_receipt_code_finds_its_tip_and_only_a_keyed_hash_is_stored(session):
    tip, code = tips.submit_tip(session, tips.TipReport("A narrative"), KEY)
    session.commit()
    assert tip.status is TipStatus.NEW
    assert tip.receipt_hash == receipts.hash_code(KEY, code)
    assert code.replace("-", "").encode() not in tip.receipt_hash
    assert tips.find_by_receipt(session, KEY, code.lower()).id == tip.id
    assert tips.find_by_receipt(session, KEY, receipts.new_receipt_code()) is None
    assert tips.find_by_receipt(session, receipts.receipt_key("z" * 40), code) is None
    assert tips.find_by_receipt(session, KEY, "not a code") is None


def test_tip_needs_a_narrative(session):
    with pytest.raises(ValueError, match="what was seen"):
        tips.submit_tip(session, tips.TipReport("   "), KEY)


def test_tip_on_a_draft_notice_is_refused(session):
    draft = notices.create_notice(session, DEMO_NOTICE, "test")
    with pytest.raises(tips.NoticeNotOpen):
        tips.submit_tip(session, tips.TipReport("seen"), KEY, draft)


def test_slugs_stay_unique(session):
    first = notices.create_notice(session, DEMO_NOTICE, "pio")
    second = notices.create_notice(session, DEMO_NOTICE, "pio")
    assert first.slug == "alexis-jane-doe"
    assert second.slug == "alexis-jane-doe-2"


def test_agency_default_lines_stand_in_when_a_notice_has_none(session):
    from tipline.notices.models import ContactLine

    session.add(ContactLine(label="Tip line", phone="504-822-1111"))
    bare = notices.create_notice(session, notices.NoticeDraft(subject_name="No Lines"), "pio")
    assert [c.phone for c in notices.contact_lines_for(session, bare)] == ["504-822-1111"]
    full = notices.create_notice(session, DEMO_NOTICE, "pio")
    assert [c.phone for c in notices.contact_lines_for(session, full)] == [
        "504-658-6030",
        "504-822-1111",
    ]


def test_passwords_are_argon2id(session, make_staff):
    user = make_staff(Role.DETECTIVE, "det")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_short_passwords_and_taken_usernames_are_refused(session, make_staff):
    make_staff(Role.PIO, "pio")
    with pytest.raises(auth.PasswordRejected, match="at least 12"):
        auth.create_user(session, "new", "short", Role.PIO, "test")
    with pytest.raises(auth.UsernameTaken):
        auth.create_user(session, "pio", PASSWORD, Role.PIO, "test")


@pytest.mark.parametrize("role", [Role.PIO, Role.ADMIN, Role.CALL_TAKER])
def test_only_detectives_and_supervisors_read_tips(session, make_staff, role):
    tip, _ = tips.submit_tip(session, tips.TipReport("seen"), KEY)
    user = make_staff(role)
    with pytest.raises(triage.NotAllowed):
        queue.queue_page(session, user)
    with pytest.raises(triage.NotAllowed):
        triage.view_tip(session, user, tip.public_ref)


def test_queue_puts_there_now_first_then_earliest_due_and_viewing_is_audited(session, make_staff):
    old, _ = tips.submit_tip(session, tips.TipReport("old"), KEY)
    urgent, _ = tips.submit_tip(session, tips.TipReport("urgent", there_now=True), KEY)
    new, _ = tips.submit_tip(session, tips.TipReport("new"), KEY)
    closed, _ = tips.submit_tip(session, tips.TipReport("closed"), KEY)
    closed.status = TipStatus.CLOSED
    detective = make_staff(Role.DETECTIVE)
    page = queue.queue_page(session, detective, queue.View.ALL)
    assert page.tips == [urgent, old, new, closed]  # urgent, then normal tips by due time
    assert queue.queue_page(session, detective, queue.View.NEW).tips == [urgent, old, new]
    assert triage.view_tip(session, detective, new.public_ref) == new
    viewed = audit.events_for(session, "tip", new.public_ref)[-1]
    assert (viewed.action, viewed.actor_id) == ("tip.viewed", detective.id)
    assert triage.view_tip(session, detective, "NOSUCHREF") is None
