"""Rewards through the pages: a detective's outcome, the coordinators' decision, the tipster's
receipt page (no JavaScript), the payout desk and the ledger. SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tipline.auth.models import Role
from tipline.rewards.models import Reward, RewardStatus

from ..conftest import csrf_token
from .conftest import staff_client
from .tipster import open_receipt, send_tip

MARKERS = {
    "narrative": "MARKER-NARRATIVE he sleeps at the blue house",
    "seen_where": "MARKER-WHERE by the levee",
    "contact": "MARKER-CONTACT call 504-555-0199",
}
PAYOUT_RE = re.compile(r'class="receipt-code payout-code"[^>]*><code>(.*?)</code>')


def _code_in(html: str) -> str:
    """The code as a person reads it (the page wraps each group in a span)."""
    return re.sub(r"<[^>]+>", "", html)


def post(client, url, page, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


@pytest.fixture
def world(app, make_staff, published_notice):
    """A tip with marker text on the demo notice, and a signed-in client per person."""
    tipster = app.test_client()
    _, code = send_tip(tipster, f"/notices/{published_notice.slug}/tip", **MARKERS)
    assert code
    clients = {"tipster": tipster}
    for role, name in [
        (Role.DETECTIVE, "det"),
        (Role.COORDINATOR, "coord-1"),
        (Role.COORDINATOR, "coord-2"),
        (Role.PAYOUT_DESK, "desk-1"),
        (Role.SUPERVISOR, "sup"),
    ]:
        clients[name] = staff_client(app, make_staff, role, name)
    return clients, code


def _tip_ref(session) -> str:
    from tipline.tips.models import Tip

    ref = session.scalar(select(Tip.public_ref))
    session.rollback()  # end the read: later reads see what the requests commit
    return ref


def _to_approved(clients, ref, amount="500"):
    det, c1, c2 = clients["det"], clients["coord-1"], clients["coord-2"]
    outcome_page = f"/staff/tips/{ref}/outcome"
    response = post(det, outcome_page, outcome_page, kind="arrest", case_reference="K-12345-26")
    assert response.status_code == 303
    tip_page = f"/staff/rewards/tips/{ref}"
    assert (
        post(c1, f"{tip_page}/propose", tip_page, amount=amount, reason="Arrest").status_code == 303
    )
    page = c2.get(tip_page).get_data(as_text=True)
    reward_id = re.search(r"/staff/rewards/(\d+)/approve", page).group(1)
    assert post(c2, f"/staff/rewards/{reward_id}/approve", tip_page, note="").status_code == 303
    return reward_id


def test_detective_records_an_outcome_and_the_coordinator_sees_facts_not_contact(world, session):
    clients, _code = world
    ref = _tip_ref(session)
    coordinator = clients["coord-1"]
    assert coordinator.get(f"/staff/rewards/tips/{ref}").status_code == 404  # not eligible
    assert coordinator.get(f"/staff/tips/{ref}").status_code == 403  # never the triage page
    page = f"/staff/tips/{ref}/outcome"
    refused = post(clients["det"], page, page, kind="arrest", case_reference="")
    # Shown again, the choice made still chosen, the error beside the field it is about.
    assert refused.status_code == 400
    shown = refused.get_data(as_text=True)
    assert 'id="case_reference-error"' in shown and "Give the case reference." in shown
    assert re.search(r'<option selected value="arrest">|<option value="arrest" selected', shown)
    post(clients["det"], page, page, kind="arrest", case_reference="K-12345-26")
    facts = coordinator.get(f"/staff/rewards/tips/{ref}").get_data(as_text=True)
    assert "MARKER-NARRATIVE" in facts and "MARKER-WHERE" in facts and "K-12345-26" in facts
    assert "MARKER-CONTACT" not in facts and "504-555-0199" not in facts
    assert ref[:6] in coordinator.get("/staff/rewards").get_data(as_text=True)


def test_coordinator_request_shows_on_the_detectives_request_list(world, session):
    clients, _ = world
    ref = _tip_ref(session)
    post(
        clients["coord-1"],
        "/staff/rewards/requests",
        "/staff/rewards",
        tip_reference=ref,
        reason="The caller says they were arrested",
    )
    page = clients["det"].get("/staff/outcome-requests").get_data(as_text=True)
    assert ref[:6] in page and "The caller says they were arrested" in page


def test_self_approval_is_refused_on_the_page_and_limits_are_enforced(world, session):
    clients, _ = world
    ref = _tip_ref(session)
    page = f"/staff/tips/{ref}/outcome"
    post(clients["det"], page, page, kind="charge", case_reference="K-1")
    tip_page = f"/staff/rewards/tips/{ref}"
    c1 = clients["coord-1"]
    refused = post(c1, f"{tip_page}/propose", tip_page, amount="5000", reason="Too much")
    assert refused.status_code == 400
    shown = refused.get_data(as_text=True)
    assert "The amount must be between 100 and 2,500 USD." in shown
    assert "Too much</textarea>" in shown and 'value="5000"' in shown  # nothing typed lost
    post(c1, f"{tip_page}/propose", tip_page, amount="400", reason="Charge")
    reward = session.scalar(select(Reward))
    response = post(c1, f"/staff/rewards/{reward.id}/approve", tip_page, note="Fine")
    assert response.status_code == 400
    assert "A second coordinator must decide" in response.get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(Reward.status)) is RewardStatus.PROPOSED
    # Only coordinators decide; the payout desk cannot even open the page.
    assert clients["desk-1"].get(tip_page).status_code == 403


def test_receipt_before_and_after_approval_and_the_code_shown_once(world, session, app):
    clients, code = world
    tipster = clients["tipster"]
    assert open_receipt(tipster, code).status_code == 303
    before = tipster.get("/receipt").get_data(as_text=True)
    assert "Reward" not in before and "payout code" not in before
    _to_approved(clients, _tip_ref(session))
    after = tipster.get("/receipt").get_data(as_text=True)
    assert "A reward of $500 was approved for your tip." in after
    assert "Bring your payout code to the payout desk." in after
    assert PAYOUT_RE.search(after) is None  # not shown until asked for
    shown = post(tipster, "/receipt/payout-code", "/receipt")
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    payout_code = _code_in(PAYOUT_RE.search(shown.get_data(as_text=True)).group(1))
    assert payout_code != code
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}", payout_code)
    again = tipster.get("/receipt").get_data(as_text=True)
    assert payout_code not in again
    assert "A payout code was already shown on" in again


def test_receipt_hides_the_amount_when_configured_and_speaks_spanish(world, session, app):
    clients, code = world
    app.config["REWARD_SHOW_AMOUNT"] = False
    _to_approved(clients, _tip_ref(session))
    tipster = clients["tipster"]
    open_receipt(tipster, code)
    page = tipster.get("/receipt?lang=es").get_data(as_text=True)
    assert "Se aprobó una recompensa por su información." in page
    assert "Lleve su código de cobro a la ventanilla de pagos." in page
    assert "500" not in page


def _payout_code(clients, code) -> str:
    tipster = clients["tipster"]
    open_receipt(tipster, code)
    shown = post(tipster, "/receipt/payout-code", "/receipt").get_data(as_text=True)
    return _code_in(PAYOUT_RE.search(shown).group(1))


def test_payout_desk_sees_only_validity_amount_and_expiry_and_pays_once(
    world, session, published_notice
):
    clients, code = world
    _to_approved(clients, _tip_ref(session), amount="750")
    payout_code = _payout_code(clients, code)
    # The tipster also wrote an answer with a marker, which the desk must never see.
    post(clients["tipster"], "/receipt/answer", "/receipt", body="MARKER-ANSWER red jacket")
    desk = clients["desk-1"]
    checked = post(desk, "/staff/payout", "/staff/payout", code=payout_code.lower())
    page = checked.get_data(as_text=True)
    assert checked.status_code == 200 and "Valid code" in page and "750 USD" in page
    assert checked.headers["Cache-Control"] == "no-store"
    for secret in [*MARKERS.values(), "MARKER", published_notice.subject_name, code]:
        assert secret not in page
    paid = post(desk, "/staff/payout/pay", "/staff/payout", code=payout_code)
    assert paid.status_code == 303
    page = desk.get("/staff/payout").get_data(as_text=True)
    assert "Paid 750 USD. The code is now used up" in page
    post(desk, "/staff/payout/pay", "/staff/payout", code=payout_code)
    page = desk.get("/staff/payout").get_data(as_text=True)
    assert "Not paid: this code is not valid." in page
    session.rollback()
    assert session.scalar(select(Reward.status)) is RewardStatus.PAID
    receipt = clients["tipster"].get("/receipt").get_data(as_text=True)
    assert "The reward for your tip has been paid." in receipt


def test_wrong_payout_code_is_refused_plainly(world):
    clients, _ = world
    desk = clients["desk-1"]
    response = post(desk, "/staff/payout", "/staff/payout", code="AAAA-BBBB-CCCC-DDDD-EEEE")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This code is not valid: it may be mistyped, already paid or expired." in page
    assert "Valid code" not in page


def test_ledger_page_and_csv_for_coordinators_and_supervisors(world, session, published_notice):
    clients, code = world
    _to_approved(clients, _tip_ref(session), amount="600")
    payout_code = _payout_code(clients, code)
    post(clients["desk-1"], "/staff/payout/pay", "/staff/payout", code=payout_code)
    page = clients["sup"].get("/staff/rewards/ledger").get_data(as_text=True)
    assert published_notice.subject_name in page and "1 · 600" in page
    exported = clients["coord-2"].get("/staff/rewards/ledger.csv")
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert ",paid,600,USD," in exported.get_data(as_text=True)
    assert "MARKER" not in exported.get_data(as_text=True)
    assert clients["det"].get("/staff/rewards/ledger").status_code == 403
    assert clients["desk-1"].get("/staff/rewards/ledger.csv").status_code == 403


def test_notice_states_its_maximum_reward_on_the_public_page(app, session, published_notice):
    published_notice.max_reward = 2500
    session.commit()
    client = app.test_client()
    page = client.get(f"/notices/{published_notice.slug}").get_data(as_text=True)
    assert "Reward up to $2,500" in page
    spanish = client.get(f"/notices/{published_notice.slug}?lang=es").get_data(as_text=True)
    assert "Recompensa de hasta 2.500\xa0US$" in spanish  # a no-break space, as Babel writes it
    api = client.get(f"/api/v1/notices/{published_notice.slug}").get_json()
    assert api["max_reward"] == {"amount": 2500, "currency": "USD"}


def test_the_poster_states_the_maximum_reward(client, session, published_notice):
    from .test_poster import pdf_text, poster

    published_notice.max_reward = 2500
    session.commit()
    pages, text = pdf_text(poster(client, published_notice.slug))
    assert pages == 1
    assert "Reward up to 2,500 USD" in text


def test_a_correction_is_a_new_entry_and_the_paid_reward_stays(world, session):
    clients, code = world
    _to_approved(clients, _tip_ref(session), amount="600")
    payout_code = _payout_code(clients, code)
    post(clients["desk-1"], "/staff/payout/pay", "/staff/payout", code=payout_code)
    session.rollback()
    reward_id = session.scalar(select(Reward.id))
    ledger_page = "/staff/rewards/ledger"
    coordinator = clients["coord-1"]
    response = post(
        coordinator,
        "/staff/rewards/corrections",
        ledger_page,
        reward_id=str(reward_id),
        amount_delta="-25",
        reason="Bank fee refunded",
    )
    assert response.status_code == 303
    page = coordinator.get(ledger_page).get_data(as_text=True)
    assert "Correction recorded in the ledger." in page and "Bank fee refunded" in page
    assert "Total of corrections: -25 USD." in page
    session.rollback()
    assert session.scalar(select(Reward.amount)) == 600
    # Supervisors read the ledger but do not record corrections.
    assert "Record correction" not in clients["sup"].get(ledger_page).get_data(as_text=True)


def test_a_coordinator_types_the_reference_as_staff_pages_show_it(world, session):
    """The reference people read (its first 8 characters, any case) is accepted, and reward
    pages show that same length, never the whole reference, outside their links."""
    clients, _ = world
    ref = _tip_ref(session)
    coordinator = clients["coord-1"]
    post(
        coordinator,
        "/staff/rewards/requests",
        "/staff/rewards",
        tip_reference=ref[:8].lower(),
        reason="Reported by the arresting officer",
    )
    page = clients["det"].get("/staff/outcome-requests").get_data(as_text=True)
    assert f"Tip {ref[:8]}<" in page and "Reported by the arresting officer" in page
    _to_approved(clients, ref)
    for url in ("/staff/rewards", f"/staff/rewards/tips/{ref}"):
        text = re.sub(r'(href|action)="[^"]*"', "", coordinator.get(url).get_data(as_text=True))
        assert f"ip {ref[:8]}" in text and ref[:9] not in text, url


def test_every_refused_reward_form_comes_back_with_what_was_typed(world, session):
    """A request for an unknown tip, a correction of an unknown reward and a decline note on
    a reward already decided are each refused on the page they were typed in (400), with
    the text still in its box."""
    clients, _code = world
    ref = _tip_ref(session)
    c1, c2 = clients["coord-1"], clients["coord-2"]
    asked = post(
        c1,
        "/staff/rewards/requests",
        "/staff/rewards",
        tip_reference="ZZZZZZZZ",
        reason="MARKER-ASKED the caller named an arrest",
    )
    assert asked.status_code == 400
    assert "MARKER-ASKED the caller named an arrest</textarea>" in asked.get_data(as_text=True)
    corrected = post(
        c1,
        "/staff/rewards/corrections",
        "/staff/rewards/ledger",
        reward_id="999999",
        amount_delta="-50",
        reason="MARKER-CORRECTED paid twice",
    )
    assert corrected.status_code == 400
    assert "MARKER-CORRECTED paid twice</textarea>" in corrected.get_data(as_text=True)
    reward_id = _to_approved(clients, ref)
    tip_page = f"/staff/rewards/tips/{ref}"
    late = post(c2, f"/staff/rewards/{reward_id}/decline", tip_page, note="MARKER-LATE no")
    assert late.status_code == 400
    assert "MARKER-LATE no" in late.get_data(as_text=True)
