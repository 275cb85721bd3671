"""The supervisors' oversight page: urgent "no action" proposals confirmed by another
supervisor, escalations acknowledged, sampled closures reviewed or reopened, figures with
flags. Only supervisors open it; every action is a CSRF-protected POST."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tipline.auth.models import Role
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.models import Tip, TipStatus
from tipline.triage import escalation, figures
from tipline.triage import services as triage
from tipline.triage.closures import ReviewPolicy
from tipline.triage.models import ClosureReview, Escalation, ReviewState

from ..conftest import csrf_token, sign_in

PAGE = "/staff/oversight"


def submit(app, session, text, **kw):
    tip, _ = tips.submit_tip(
        session, tips.TipReport(text, **kw), receipts.receipt_key(app.secret_key)
    )
    session.commit()
    return tip


def post(client, url, data=None, page=PAGE):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **(data or {})})


@pytest.fixture
def supervisor(client, make_staff):
    user = make_staff(Role.SUPERVISOR, "sup")
    sign_in(client, user.username)
    return user


@pytest.fixture
def urgent_tip_claimed(app, client, session, make_staff):
    """An urgent tip (they are there now) claimed by detective ``det``, who is signed in on
    ``client``; returns the tip and its staff page."""
    detective = make_staff(Role.DETECTIVE, "det")
    tip = submit(app, session, "She is in the laundromat now", there_now=True)
    triage.claim_tip(session, detective, tip)
    session.commit()
    sign_in(client, "det")
    return tip, f"/staff/tips/{tip.public_ref}"


def test_urgent_no_action_from_the_tip_page_waits_and_another_supervisor_confirms(
    app, client, session, make_staff, urgent_tip_claimed
):
    tip, page = urgent_tip_claimed
    response = post(client, f"{page}/status", {"status": "no_action", "reason": "Prank"}, page)
    assert response.status_code == 303
    shown = client.get(page).get_data(as_text=True)
    assert "only when a supervisor confirms" in shown and "Waiting for a supervisor" in shown
    session.expire_all()
    assert session.get(Tip, tip.id).status is TipStatus.IN_REVIEW

    sup_client = app.test_client()
    sign_in(sup_client, make_staff(Role.SUPERVISOR, "sup").username)
    listing = sup_client.get(PAGE)
    assert listing.status_code == 200 and listing.headers["Cache-Control"] == "no-store"
    text = listing.get_data(as_text=True)
    assert "proposed by det" in text and "laundromat" not in text
    review = session.scalar(select(ClosureReview))
    session.commit()
    post(sup_client, f"{PAGE}/reviews/{review.id}/confirm", page=PAGE)
    session.expire_all()
    assert session.get(Tip, tip.id).status is TipStatus.NO_ACTION
    assert "Nothing to confirm." in sup_client.get(PAGE).get_data(as_text=True)


def test_a_supervisor_cannot_confirm_their_own_proposal_on_the_page(
    app, client, session, supervisor
):
    tip = submit(app, session, "Now at the corner", there_now=True)
    review = triage.change_status(
        session, supervisor, tip, TipStatus.IN_REVIEW
    ) or triage.change_status(session, supervisor, tip, TipStatus.NO_ACTION, "Nothing seen")
    session.commit()
    post(client, f"{PAGE}/reviews/{review.id}/confirm")
    page = client.get(PAGE).get_data(as_text=True)
    assert "another supervisor must confirm it" in page
    session.expire_all()
    assert session.get(Tip, tip.id).status is TipStatus.IN_REVIEW
    assert session.get(ClosureReview, review.id).state is ReviewState.PENDING


def test_escalations_are_listed_and_acknowledged(app, client, session, supervisor):
    tip = submit(app, session, "Now at the bus depot", there_now=True)
    [made] = escalation.escalate_overdue(session, tip.due_at + timedelta(minutes=1))
    session.commit()
    page = client.get(PAGE).get_data(as_text=True)
    assert tip.short_ref in page and "Not claimed" in page and "bus depot" not in page
    post(client, f"{PAGE}/escalations/{made}/acknowledge")
    session.expire_all()
    assert session.get(Escalation, made).acknowledged_by_id == supervisor.id
    assert "No overdue tips." in client.get(PAGE).get_data(as_text=True)


def test_a_sampled_closure_is_reopened_with_a_reason(app, client, session, make_staff, supervisor):
    detective = make_staff(Role.DETECTIVE, "det")
    tip = submit(app, session, "Seen on Magazine Street")
    triage.claim_tip(session, detective, tip)
    review = triage.change_status(
        session, detective, tip, TipStatus.NO_ACTION, "Old news", review=ReviewPolicy(1.0, b"k")
    )
    session.commit()
    assert "closed by det" in client.get(PAGE).get_data(as_text=True)
    field = f"reopen-{review.id}-reason"
    refused = post(client, f"{PAGE}/reviews/{review.id}/reopen", {field: ""})
    assert refused.status_code == 400 and "Say why" in refused.get_data(as_text=True)
    # A refused reason comes back in its own box, and a decision on a review settled
    # meanwhile shows what was typed instead of dropping it.
    other = f"reject-{review.id}-reason"
    late = post(client, f"{PAGE}/reviews/{review.id}/reject", {other: "MARKER-LATE keep it"})
    assert late.status_code == 400
    assert "MARKER-LATE keep it" in late.get_data(as_text=True)
    post(client, f"{PAGE}/reviews/{review.id}/reopen", {field: "New sighting matches"})
    session.expire_all()
    assert session.get(Tip, tip.id).status is TipStatus.NEW
    assert session.get(ClosureReview, review.id).state is ReviewState.REOPENED


def test_figures_flag_a_member_far_from_their_peers(app, client, session, make_staff, supervisor):
    closer = make_staff(Role.DETECTIVE, "closer")
    peers = [make_staff(Role.DETECTIVE, f"peer{i}") for i in range(2)]
    for who in [closer, *peers]:
        for i in range(5):
            tip = submit(app, session, f"tip {i}")
            triage.claim_tip(session, who, tip)
            if who is closer or i == 0:
                triage.change_status(session, who, tip, TipStatus.NO_ACTION, "No")
    session.commit()
    page = client.get(PAGE).get_data(as_text=True)
    assert "Flagged:</strong> closes 100% of claimed tips as “No action”; peers 20%" in page
    assert page.count("Flagged:") == 1


@pytest.mark.parametrize(
    ("mine", "peers", "flagged"),
    [(0.05, 0.01, False), (20.0, 5.0, False), (45.0, 10.0, True), (40.0, 0.0, True)],
)
def test_a_slower_claimer_is_flagged_only_minutes_apart(mine, peers, flagged):
    """Five times slower in seconds (a busy minute) says nothing; half an hour and more does."""
    rows = {
        1: figures.StaffFigures(user=None, claimed=5, median_minutes_to_claim=mine),
        2: figures.StaffFigures(user=None, claimed=5, median_minutes_to_claim=peers),
        3: figures.StaffFigures(user=None, claimed=5, median_minutes_to_claim=peers),
    }
    figures._flag(rows)
    assert bool(rows[1].flags) is flagged
    assert rows[2].flags == rows[3].flags == []


@pytest.mark.parametrize("role", [Role.DETECTIVE, Role.PIO, Role.ADMIN, Role.CALL_TAKER])
def test_only_supervisors_open_the_oversight_page(client, make_staff, role):
    sign_in(client, make_staff(role).username)
    assert client.get(PAGE).status_code == 403


def test_a_refused_self_confirmation_shows_on_the_oversight_page(app, client, session, supervisor):
    tip = submit(app, session, "Right now at the corner store", there_now=True)
    triage.change_status(session, supervisor, tip, TipStatus.IN_REVIEW)
    review = triage.change_status(session, supervisor, tip, TipStatus.NO_ACTION, "Done")
    session.commit()
    post(client, f"{PAGE}/reviews/{review.id}/confirm")
    session.expire_all()
    assert session.get(Tip, tip.id).status is TipStatus.IN_REVIEW
    text = client.get(PAGE).get_data(as_text=True)
    assert 'Refused confirmations <span class="count">(1)' in text
    assert "Close as “No action”" in text


def test_lowering_an_urgent_tip_from_the_tip_page_is_held_for_oversight(
    app, client, session, make_staff, urgent_tip_claimed
):
    tip, page = urgent_tip_claimed
    post(client, f"{page}/priority", {"priority": "low"}, page)
    session.expire_all()
    assert session.get(Tip, tip.id).priority.value == "urgent"
    sup_client = app.test_client()
    sign_in(sup_client, make_staff(Role.SUPERVISOR, "sup").username)
    assert "Lower the priority to Low" in sup_client.get(PAGE).get_data(as_text=True)


def _read_figure(page: str, username: str) -> int:
    """The "Viewed" cell of ``username``'s row in the figures table."""
    found = re.search(rf'<th scope="row">{username}</th>\s*<td>(\d+)</td>', page)
    assert found, f"no figures row for {username}"
    return int(found.group(1))


def test_a_detective_who_reads_only_through_search_shows_in_the_viewed_figure(
    app, client, session, make_staff, supervisor
):
    for text in ["Blue sedan by the levee", "Blue sedan at the ferry", "Red truck on Canal"]:
        submit(app, session, text)
    make_staff(Role.DETECTIVE, "searcher")
    make_staff(Role.DETECTIVE, "idle")
    reader = app.test_client()
    sign_in(reader, "searcher")
    for _ in range(2):  # the same results twice are still two tips read
        assert "sedan" in reader.get("/staff/queue?q=sedan").get_data(as_text=True)
    page = client.get(PAGE).get_data(as_text=True)
    assert _read_figure(page, "searcher") == 2
    assert _read_figure(page, "idle") == 0
    # A queue page shows every open tip's snippet: the third tip is read too.
    assert "Red truck" in reader.get("/staff/queue").get_data(as_text=True)
    assert _read_figure(client.get(PAGE).get_data(as_text=True), "searcher") == 3
