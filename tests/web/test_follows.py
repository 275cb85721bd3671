"""Following a notice: the address gets one confirmation link, and no follower e-mail until
its owner opens the link signed in and confirms. The link works once, lapses after a day, is
stored only as a hash, and cannot be asked for without end. On SQLite and PostgreSQL."""

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tipline.auth.models import Role
from tipline.db import utcnow
from tipline.outbox import OutboxMessage
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import Tip, TipPriority
from tipline.triage import follows
from tipline.triage.models import NoticeFollow

from ..conftest import LINK_MAIL, csrf_token, sign_in
from .tipster import send_tip as send_public_tip

KEY = receipts.receipt_key("k" * 40)
LINK = re.compile(r"https?://\S+/staff/follows/confirm\?token=([A-Za-z0-9_-]+)")


def follow_page(client, notice, email):
    url = f"/staff/queue/notices/{notice.slug}"
    return client.post(
        f"{url}/follow", data={"csrf_token": csrf_token(client, url), "email": email}
    )


def mails(session, kind):
    session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    return session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
    ).all()


def confirmed_at(session):
    session.rollback()
    return session.scalar(select(NoticeFollow.confirmed_at))


def send_tip(app, session, notice):
    tips.submit_tip(
        session, tips.TipReport("seen on Canal"), receipts.receipt_key(app.secret_key), notice
    )
    session.commit()


def test_no_follower_mail_until_the_mailed_link_is_confirmed(
    app, client, session, detective, published_notice
):
    assert follow_page(client, published_notice, "det@example.org").status_code == 303
    [confirm] = mails(session, "follow-confirm")
    assert confirm.recipient == "det@example.org"
    # The e-mail names neither the notice nor who asked.
    assert published_notice.subject_name not in confirm.body and "det" not in confirm.subject
    token = LINK.search(confirm.body).group(1)
    send_tip(app, session, published_notice)
    assert mails(session, "follower") == []  # unconfirmed: nothing goes to the address

    page = client.get(f"/staff/follows/confirm?token={token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and published_notice.subject_name in html
    assert mails(session, "follower") == [] and confirmed_at(session) is None
    done = client.post(
        "/staff/follows/confirm",
        data={
            "csrf_token": csrf_token(client, f"/staff/follows/confirm?token={token}"),
            "token": token,
        },
    )
    assert done.status_code == 303
    assert confirmed_at(session) is not None
    send_tip(app, session, published_notice)
    [alert] = mails(session, "follower")
    assert alert.recipient == "det@example.org"

    # Used once: the same link no longer works.
    again = client.get(f"/staff/follows/confirm?token={token}")
    assert again.status_code == 404 and "used already" in again.get_data(as_text=True)


def test_the_token_is_stored_only_as_its_hash(client, session, detective, published_notice):
    follow_page(client, published_notice, "det@example.org")
    [confirm] = mails(session, "follow-confirm")
    token = LINK.search(confirm.body).group(1)
    session.rollback()
    follow = session.scalar(select(NoticeFollow))
    assert follow.confirm_token_hash == hashlib.sha256(token.encode()).digest()
    assert token.encode() not in follow.confirm_token_hash
    assert follow.confirm_expires_at - utcnow() <= follows.CONFIRM_FOR


def test_a_link_is_mailed_once_and_a_changed_address_starts_over(
    app, client, session, detective, published_notice
):
    follow_page(client, published_notice, "det@example.org")
    follow_page(client, published_notice, "det@example.org")  # the link is still out
    assert len(mails(session, "follow-confirm")) == 1
    follow_page(client, published_notice, "other@example.org")
    sent = mails(session, "follow-confirm")
    assert [m.recipient for m in sent] == ["det@example.org", "other@example.org"]
    # The first link was replaced by the second.
    first = LINK.search(sent[0].body).group(1)
    assert client.get(f"/staff/follows/confirm?token={first}").status_code == 404


def test_someone_elses_or_an_expired_link_does_not_confirm(
    app, client, session, detective, make_staff, published_notice
):
    follow_page(client, published_notice, "det@example.org")
    token = LINK.search(mails(session, "follow-confirm")[0].body).group(1)
    other = app.test_client()
    sign_in(other, make_staff(Role.DETECTIVE, "other").username)
    refused = other.get(f"/staff/follows/confirm?token={token}")
    assert refused.status_code == 404 and "belongs to someone else" in refused.get_data(
        as_text=True
    )
    session.execute(update(NoticeFollow).values(confirm_expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    expired = client.get(f"/staff/follows/confirm?token={token}")
    assert expired.status_code == 404 and "expired" in expired.get_data(as_text=True)
    assert confirmed_at(session) is None
    # The lapsed follow is what housekeeping deletes.
    assert follows.drop_lapsed_follows(session, utcnow(), 100) == 1
    session.commit()
    assert session.scalar(select(func.count()).select_from(NoticeFollow)) == 0


def test_the_link_needs_its_owner_signed_in(app, client, session, detective, published_notice):
    follow_page(client, published_notice, "det@example.org")
    token = LINK.search(mails(session, "follow-confirm")[0].body).group(1)
    stranger = app.test_client()
    response = stranger.get(f"/staff/follows/confirm?token={token}")
    assert response.status_code == 303 and "/staff/login" in response.headers["Location"]
    assert stranger.post("/staff/follows/confirm", data={"token": token}).status_code in (
        303,
        400,
    )
    assert confirmed_at(session) is None


def test_links_per_day_are_limited(session, make_staff, published_notice):
    user = make_staff(Role.DETECTIVE, "det")
    for n in range(follows.LINKS_PER_DAY):
        assert follows.follow_notice(
            session, user, published_notice, f"a{n}@example.org", LINK_MAIL
        )
    with pytest.raises(ValueError, match="confirmation e-mails were sent for you"):
        follows.follow_notice(session, user, published_notice, "flood@example.org", LINK_MAIL)
    session.rollback()
    later = utcnow() + timedelta(hours=25)
    assert follows.follow_notice(
        session, user, published_notice, "next-day@example.org", LINK_MAIL, now=later
    )


def test_a_follow_confirmed_after_tips_were_taken_is_told_of_the_next_one(
    app, client, session, detective, published_notice
):
    """The tip form remembers, between changes, whether its notice is followed at a confirmed
    address; starting a follow and confirming it must each change that answer at once."""
    tipster = app.test_client()
    url = f"/notices/{published_notice.slug}/tip"
    assert send_public_tip(tipster, url, narrative="first")[1]  # remembered: nobody follows
    follow_page(client, published_notice, "det@example.org")
    [confirm] = mails(session, "follow-confirm")
    token = LINK.search(confirm.body).group(1)
    assert send_public_tip(tipster, url, narrative="second")[1]
    assert mails(session, "follower") == []  # followed, but not at a confirmed address
    client.post(
        "/staff/follows/confirm",
        data={
            "csrf_token": csrf_token(client, f"/staff/follows/confirm?token={token}"),
            "token": token,
        },
    )
    assert send_public_tip(tipster, url, narrative="third")[1]
    [alert] = mails(session, "follower")
    assert alert.recipient == "det@example.org"


def test_a_tip_added_to_a_session_by_other_code_tells_the_followers_too(
    app, client, session, detective, published_notice
):
    """submit_tip writes a tip with a plain INSERT; a tip made any other way (added to a
    session and flushed) reaches the same hooks: its priority and its followers' e-mail."""
    follow_page(client, published_notice, "det@example.org")
    [confirm] = mails(session, "follow-confirm")
    token = LINK.search(confirm.body).group(1)
    client.post(
        "/staff/follows/confirm",
        data={
            "csrf_token": csrf_token(client, f"/staff/follows/confirm?token={token}"),
            "token": token,
        },
    )
    session.rollback()  # a fresh transaction: the confirmation committed in its own
    tip = Tip(
        public_ref=receipts.new_public_ref(),
        receipt_hash=receipts.hash_code(KEY, receipts.new_receipt_code()),
        notice_id=published_notice.id,
        narrative="there right now, by the levee",
        there_now=True,
    )
    session.add(tip)
    session.commit()
    assert tip.priority is TipPriority.URGENT and tip.due_at is not None
    [alert] = mails(session, "follower")
    assert alert.recipient == "det@example.org"
