"""CAP 1.2 messages: Alert on publish, Update on change, Cancel on resolution, each valid
against the OASIS schema and referencing the ones before it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from lxml import etree

from tipline import audit
from tipline.notices import cap
from tipline.notices import services as notices

from ..conftest import approve_pending_edit, resolve_notice

XSD = Path(__file__).resolve().parent.parent / "data" / "CAP-v1.2.xsd"
NS = {"cap": cap.CAP_NS}


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def assert_valid_cap(schema: etree.XMLSchema, body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    assert schema.validate(root), schema.error_log.filter_from_errors()
    return root


def edit(session, notice, **changes) -> None:
    """Edit through the PIO's service, which versions and audits the change."""
    draft = dataclasses.replace(notices.draft_of(notice), **changes)
    assert notices.update_notice(session, notice, draft, "pio-2")
    approve_pending_edit(session, notice)
    session.commit()


def resolve(session, notice) -> None:
    resolve_notice(session, notice, requester="supervisor-2")
    session.commit()


def get_cap(client, notice) -> bytes:
    response = client.get(f"/notices/{notice.slug}.cap.xml")
    assert response.status_code == 200
    assert response.content_type == "application/cap+xml; charset=utf-8"
    return response.data


def text(root, path: str) -> str:
    return root.findtext(path, namespaces=NS)


def test_publication_is_a_valid_alert_with_the_numbers_to_call(
    client, published_notice, cap_schema
):
    root = assert_valid_cap(cap_schema, get_cap(client, published_notice))
    assert text(root, "cap:msgType") == "Alert"
    assert text(root, "cap:status") == "Actual"
    assert text(root, "cap:scope") == "Public"
    assert root.find("cap:references", NS) is None
    assert text(root, "cap:info/cap:category") == "Security"
    assert text(root, "cap:info/cap:event") == "Wanted person"
    instruction = text(root, "cap:info/cap:instruction")
    assert "504-658-6030" in instruction and "504-822-1111" in instruction
    assert "Do not approach" in instruction
    assert text(root, "cap:info/cap:contact") == (
        "New Orleans Police Department 504-658-6030; Crimestoppers of Greater New Orleans "
        "504-822-1111 (Anonymous. You do not have to give your name.)"
    )
    assert text(root, "cap:info/cap:web") == f"http://localhost/notices/{published_notice.slug}"


def test_edit_makes_an_update_and_resolution_a_cancel_each_referencing_the_last(
    client, session, published_notice, cap_schema
):
    alert = assert_valid_cap(cap_schema, get_cap(client, published_notice))

    edit(session, published_notice, caution="Armed. Do not approach; call 911.")
    update = assert_valid_cap(cap_schema, get_cap(client, published_notice))
    assert text(update, "cap:msgType") == "Update"
    assert "Armed." in text(update, "cap:info/cap:instruction")

    resolve(session, published_notice)
    cancel = assert_valid_cap(cap_schema, get_cap(client, published_notice))
    assert text(cancel, "cap:msgType") == "Cancel"
    assert text(cancel, "cap:info/cap:responseType") == "AllClear"

    def ref(root) -> str:
        return ",".join(text(root, f"cap:{t}") for t in ("sender", "identifier", "sent"))

    assert text(update, "cap:references").split(" ") == [ref(alert)]
    assert text(cancel, "cap:references").split(" ") == [ref(alert), ref(update)]
    identifiers = {text(r, "cap:identifier") for r in (alert, update, cancel)}
    assert len(identifiers) == 3


def test_every_message_in_a_long_history_validates(session, published_notice, cap_schema):
    edit(session, published_notice, reward_text="Up to $2,500 & more <cash>.")
    edit(session, published_notice, description="Control \x0b characters are dropped.")
    resolve(session, published_notice)
    history = cap.message_history(session, published_notice)
    assert [m.msg_type for m in history] == ["Alert", "Update", "Update", "Cancel"]
    document = {
        "title": "Wanted: Alexis Jane Doe",
        "subject_name": "Alexis Jane Doe",
        "url": "https://tips.example.org/notices/alexis-jane-doe",
        "aliases": ["A. J."],
        "description": published_notice.description,
        "caution": "",
        "reward_text": published_notice.reward_text,
        "charges": [{"citation": "La. R.S. 14:134", "description": "x", "severity": "felony"}],
        "contact_lines": [],
        "links": {"tip": None},
    }
    for index in range(len(history)):
        body = cap.render_message(history, index, document, "tips.example.org", "NOPD")
        root = assert_valid_cap(cap_schema, body)
        assert (text(root, "cap:references") is None) == (index == 0)
    assert "\x0b" not in body.decode()


def test_identifiers_are_stable_and_expose_no_audit_sequence(session, published_notice):
    first = cap.message_history(session, published_notice)
    for n in range(5):  # other activity on the site must not show in the identifiers
        audit.record(session, "pio", "notice.viewed", "notice", f"other-{n}")
    edit(session, published_notice, caution="Changed.")
    second = cap.message_history(session, published_notice)
    assert second[0] == first[0]
    slug = published_notice.slug
    assert [m.identifier for m in second] == [
        f"tipline.notice.{slug}.1",
        f"tipline.notice.{slug}.2",
    ]


def test_edits_before_publication_and_after_cancel_make_no_message(session, published_notice):
    history = cap.message_history(session, published_notice)
    assert [m.msg_type for m in history] == ["Alert"]  # notice.created made none
    resolve(session, published_notice)
    audit.record(session, "pio", "notice.edited", "notice", published_notice.slug)
    session.commit()
    assert [m.msg_type for m in cap.message_history(session, published_notice)] == [
        "Alert",
        "Cancel",
    ]


def test_sent_times_have_the_form_the_schema_demands(session, published_notice):
    (alert,) = cap.message_history(session, published_notice)
    assert cap.cap_time(alert.sent).endswith("+00:00")
    assert "." not in cap.cap_time(alert.sent)
