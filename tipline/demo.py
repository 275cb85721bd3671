"""Demo data for `tipline demo`: the motivating case with a fictional name, and staff accounts.

Everything here is fictional except the statutes and the two public numbers, which are the real
ones the New Orleans Police Department published for the case that started this project.
"""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from tipline import audit
from tipline.auth import services as auth
from tipline.auth.models import Role, StaffUser
from tipline.notices import services as notices
from tipline.notices import workflow
from tipline.notices.models import ContactLine, Notice, Severity

DEMO_SLUG = "alexis-jane-doe"

CONTACT_LINES = [
    notices.ContactDraft("New Orleans Police Department", "504-658-6030"),
    notices.ContactDraft(
        "Crimestoppers of Greater New Orleans",
        "504-822-1111",
        "Anonymous. You do not have to give your name.",
    ),
]

DEMO_NOTICE = notices.NoticeDraft(
    subject_name="Alexis Jane Doe",
    aliases=["A. J. Doe"],
    description=(
        "Former emergency-communications (911) employee. Wanted on a warrant alleging that, "
        "while on shift, the subject deliberately disconnected 911 calls without taking the "
        "emergency information or passing it to other dispatchers."
    ),
    sex="Female",
    age=41,
    height="5 ft 6 in",
    weight="about 140 lb",
    hair="Brown, shoulder length",
    eyes="Brown",
    scars_marks="Small tattoo of a star on the left wrist.",
    last_known_area="New Orleans East",
    caution="Do not approach. If you see this person, call 911.",
    reward_text=(
        "Crimestoppers of Greater New Orleans may pay a cash reward for information that "
        "leads to an arrest. You can stay anonymous."
    ),
    charges=[
        notices.ChargeDraft(
            "La. R.S. 14:134", "Malfeasance in office", Severity.FELONY, date(2026, 11, 20)
        ),
        notices.ChargeDraft(
            "La. R.S. 14:338",
            "Interfering with emergency communication",
            Severity.MISDEMEANOR,
            date(2026, 11, 20),
        ),
    ],
    contact_lines=CONTACT_LINES,
    case_number="DEMO-2026-0001",
)

DEMO_ACCOUNTS = [
    ("demo-detective", Role.DETECTIVE),
    ("demo-supervisor", Role.SUPERVISOR),
    ("demo-pio", Role.PIO),
    ("demo-admin", Role.ADMIN),
    ("demo-call-taker", Role.CALL_TAKER),
    # Crime Stoppers: two coordinators (one proposes, the other approves) and a payout desk.
    ("demo-coordinator", Role.COORDINATOR),
    ("demo-second-coordinator", Role.COORDINATOR),
    ("demo-payout-desk", Role.PAYOUT_DESK),
]


def seed_demo(session: Session) -> list[tuple[str, Role, str]]:
    """Create the demo notice once, and (re)set demo staff accounts to fresh passwords with no
    authenticator, so each first sign-in walks through enrolling one (QR code or typed key).

    Returns ``(username, role, password)`` for each account so they can be printed.
    """
    actor = "demo-seed"
    if session.scalar(select(ContactLine.id).where(ContactLine.notice_id.is_(None))) is None:
        session.add_all(
            ContactLine(position=i, label=c.label, phone=c.phone, note=c.note)
            for i, c in enumerate(CONTACT_LINES)
        )
        session.flush()
        audit.record(session, actor, "agency.contact_lines_set", "agency", "default")
    accounts = []
    users = {}
    for username, role in DEMO_ACCOUNTS:
        password = "-".join(secrets.token_hex(3) for _ in range(4))
        user = session.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is None:
            user = auth.create_user(session, username, password, role, actor)
        else:
            auth.set_password(session, user, password, actor)
            if user.totp_secret is not None:
                auth.reset_second_factor(session, user, actor)
        users[username] = user
        accounts.append((username, role, password))

    if session.scalar(select(Notice.id).where(Notice.slug == DEMO_SLUG)) is None:
        # The two-person flow: the demo PIO writes and submits, the supervisor approves.
        notice = notices.create_notice(session, DEMO_NOTICE, users["demo-pio"])
        workflow.submit_for_review(session, notice, users["demo-pio"])
        workflow.publish_notice(session, notice, users["demo-supervisor"])
    return accounts
