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
from tipline.tips.models import Tip, TipStatus
from tipline.tips.services import TipReport, submit_tip
from tipline.triage import claims, dialog
from tipline.triage import services as triage

DEMO_SLUG = "alexis-jane-doe"

CONTACT_LINES = [
    notices.ContactDraft("New Orleans Police Department", "504-658-6030"),
    notices.ContactDraft(
        "Crimestoppers of Greater New Orleans",
        "504-822-1111",
        "Anonymous. You do not have to give your name.",
        {
            "es": "Anónimo. No tiene que dar su nombre.",
            "vi": "Ẩn danh. Quý vị không cần cho biết tên.",
        },
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


def seed_demo(
    session: Session, receipt_key: bytes | None = None, data_key: bytes | str | None = None
) -> list[tuple[str, Role, str]]:
    """Create the demo notice once, and (re)set demo staff accounts to fresh passwords with no
    authenticator, so each first sign-in walks through enrolling one (QR code or typed key).
    With ``receipt_key``, also a few fictional tips in different states, once.

    Returns ``(username, role, password)`` for each account so they can be printed.
    """
    actor = "demo-seed"
    if session.scalar(select(ContactLine.id).where(ContactLine.notice_id.is_(None))) is None:
        session.add_all(
            ContactLine(
                position=i,
                label=c.label,
                phone=c.phone,
                note=c.note,
                note_translations=dict(c.note_translations),
            )
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
            if user.has_totp_secret:
                auth.reset_second_factor(session, user, actor)
        users[username] = user
        accounts.append((username, role, password))

    if session.scalar(select(Notice.id).where(Notice.slug == DEMO_SLUG)) is None:
        # The two-person flow: the demo PIO writes and submits, the supervisor approves.
        notice = notices.create_notice(session, DEMO_NOTICE, users["demo-pio"])
        workflow.submit_for_review(session, notice, users["demo-pio"])
        workflow.publish_notice(session, notice, users["demo-supervisor"])
    if receipt_key is not None and session.scalar(select(Tip.id).limit(1)) is None:
        published = session.scalar(select(Notice).where(Notice.slug == DEMO_SLUG))
        seed_demo_tips(session, users, published, receipt_key, data_key)
    return accounts


#: Fictional tips, so the queue, the dialog and the oversight page have something to show.
DEMO_TIPS = [
    TipReport(
        narrative="She is at the bus shelter on Chef Menteur Hwy right now, blue jacket.",
        seen_where="Chef Menteur Hwy at Read Blvd",
        seen_when="Now",
        there_now=True,
    ),
    TipReport(
        narrative="I think I saw her buying coffee most mornings this week, around 7.",
        seen_where="Coffee shop on Lake Forest Blvd",
        seen_when="Weekday mornings",
        how_known="I used to work with her.",
    ),
    TipReport(
        narrative="A woman who looked like the photo got into a silver sedan, plate started 7B.",
        seen_where="Parking lot near the Walmart on Bullard Ave",
        seen_when="Yesterday evening",
        vehicle_colour="Silver",
        vehicle_plate="7B…",
        there_now=True,
    ),
    TipReport(
        narrative="My neighbour's cousin says she moved to Houston.",
        seen_where="Houston, TX (hearsay)",
    ),
]


def seed_demo_tips(
    session: Session,
    users: dict[str, StaffUser],
    notice: Notice | None,
    receipt_key: bytes,
    data_key: bytes | str | None,
) -> list[Tip]:
    """One tip per state worth seeing: new and urgent; claimed with a note and a question to
    the tipster; urgent and proposed for "no action" (waiting on the oversight page); closed."""
    detective, supervisor = users["demo-detective"], users["demo-supervisor"]
    made = [
        submit_tip(session, report, receipt_key, notice, data_key=data_key)[0]
        for report in DEMO_TIPS
    ]
    _urgent_new, asked, proposed, closed = made
    claims.claim_tip(session, detective, asked)
    triage.add_note(session, detective, asked, "Fits the pattern of the other sightings.")
    dialog.ask_tipster(session, asked, detective, "Which coffee shop, and which side of it?")
    claims.claim_tip(session, detective, proposed)
    triage.change_status(
        session, detective, proposed, TipStatus.NO_ACTION, "Plate too partial to trace."
    )
    claims.claim_tip(session, supervisor, closed)
    triage.change_status(session, supervisor, closed, TipStatus.FORWARDED, "Houston PD")
    return made
