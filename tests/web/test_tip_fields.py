"""One declaration of a tip's fields (tipline/tips/fields.py) reaches every place that shows,
keeps or empties them: a tip with every field filled shows each one on the staff page, in the
PDF and in the JSON case file, with its photos, dialog, tags, links, notes and local times."""

import io
import json
import re

from pypdf import PdfReader
from sqlalchemy import select
from wtforms.validators import Length

from tipline.audit import roles
from tipline.auth.models import Role
from tipline.calls.forms import CallForm
from tipline.tips import dialog, fields, integrity, receipts
from tipline.tips import services as tips
from tipline.tips.forms import TipForm
from tipline.tips.models import Tip
from tipline.triage import dialog as staff_dialog
from tipline.triage import fulltext, retention
from tipline.triage import services as triage

from ..conftest import DATA_KEY, sign_in
from ..unit.test_media import jpeg_with_gps

FILLED = {
    "narrative": "NARRATIVE-Seen at the corner store",
    "seen_when": "WHEN-today 3 pm",
    "seen_where": "WHERE-Magazine and Louisiana",
    "landmark": "LANDMARK-Gas station",
    "activity": "ACTIVITY-buying cigarettes",
    "companions": "COMPANIONS-two men",
    "direction": "DIRECTION-north on foot",
    "vehicle_make": "MAKE-Toyota Camry",
    "vehicle_colour": "COLOUR-grey",
    "vehicle_plate": "PL8 123",
    "how_known": "KNOWN-saw her myself",
    "contact": "CONTACT-call 504 555 0100",
}


def test_the_declaration_matches_the_model_the_forms_retention_and_search():
    names = {f.name for f in fields.TIP_FIELDS}
    assert names - {"there_now"} == set(FILLED)
    for f in fields.TIP_FIELDS:
        assert hasattr(Tip, f.stored_in), f.name
        assert hasattr(TipForm, f.name), f.name
        assert hasattr(CallForm, f.name), f.name
        assert hasattr(tips.TipReport("x"), f.name), f.name
    assert {c for c, _ in retention.EMPTIED.items()} >= {
        f.stored_in for f in fields.TIP_FIELDS if f.emptied
    }
    assert {f.name for f in fields.TIP_FIELDS if f.searchable} == set(fulltext.SEARCH_COLUMNS)


def test_the_forms_are_built_from_the_declaration(app):
    """Both forms have exactly the declared fields (plus their own), each with the declared
    question, hint and length limit; the public page draws them in the declared fieldsets."""
    own = {"csrf_token", "photos", "website", "form_token"}
    call_own = {"csrf_token", "form_token", "disposition", "notice", "caller_dialog", "note"}
    with app.test_request_context("/tip"):
        public, call = TipForm(), CallForm()
        assert {f.name for f in public} - own == {f.name for f in fields.TIP_FIELDS}
        assert {f.name for f in call} - call_own == {f.name for f in fields.TIP_FIELDS}
        for f in fields.TIP_FIELDS:
            bound = public[f.name]
            assert bound.label.text == str(f.question), f.name
            assert str(bound.description or "") == str(f.hint or ""), f.name
            assert bound.type == (
                "BooleanField" if f.flag else "TextAreaField" if f.multiline else "StringField"
            ), f.name
            limits = [v.max for v in bound.validators if isinstance(v, Length)]
            assert limits == ([f.max_length] if f.max_length else []), f.name
            if f.name != "narrative":  # the call-taker's narrative is worded for them
                assert call[f.name].label.text == str(f.question), f.name
        groups = public.groups()
    assert [str(legend) for legend, _ in groups] == [str(g.legend) for g in fields.FORM_GROUPS]
    drawn = [bound.name for _, members in groups for bound in members]
    assert drawn == [f.name for f in fields.DETAIL_FIELDS]  # every field once, in order
    page = app.test_client().get("/tip").get_data(as_text=True)
    positions = [page.index(f'name="{name}"') for name in ["narrative", *drawn]]
    assert positions == sorted(positions)


def test_the_columns_written_out_elsewhere_agree_with_the_declaration():
    """The model, the search index and the database role list columns for their own reasons
    (revisions are frozen; the role sits a layer below): each must agree with the list."""
    for f in fields.TIP_FIELDS:
        column = Tip.__table__.c[f.stored_in]
        length = getattr(column.type, "length", None)
        if length is not None:
            assert length == f.max_length, f.name  # the form takes what the column holds
        assert f.stored_in in roles.SUBMITTED_COLUMNS["tip"], f.name
        if not f.sealed:
            assert f.stored_in in integrity.SUBMITTED_COLUMNS, f.name
    assert {f.name for f in fields.TIP_FIELDS if f.searchable} == set(fulltext.SEARCH_COLUMNS)


def test_a_plate_is_stored_in_capitals_and_shown_as_typed_code(app, session, make_staff):
    key = receipts.receipt_key(app.secret_key)
    tip, _ = tips.submit_tip(
        session, tips.TipReport("Blue car", vehicle_plate=" ab\x00c 123 "), key
    )
    session.commit()
    assert tip.vehicle_plate == "ABC 123"
    make_staff(Role.DETECTIVE, "det")
    client = app.test_client()
    sign_in(client, "det")
    assert "<code>ABC 123</code>" in client.get(f"/staff/tips/{tip.public_ref}").get_data(
        as_text=True
    )


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_every_declared_field_is_on_the_staff_page_the_pdf_and_the_json(app, session, make_staff):
    key = receipts.receipt_key(app.secret_key)
    report = tips.TipReport(there_now=True, **FILLED)
    tip, _ = tips.submit_tip(session, report, key, photos=[jpeg_with_gps()], data_key=DATA_KEY)
    detective = make_staff(Role.DETECTIVE, "det")
    triage.claim_tip(session, detective, tip)
    triage.add_note(session, detective, tip, "NOTE-checked the camera")
    triage.add_tag(session, detective, tip, "camera")
    staff_dialog.ask_tipster(session, tip, detective, "QUESTION-what colour?")
    dialog.answer(session, tip, "ANSWER-red", data_key=DATA_KEY)
    session.commit()

    client = app.test_client()
    sign_in(client, "det")
    page = client.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)
    record = json.loads(client.get(f"/staff/tips/{tip.public_ref}/export.json").data)
    pdf = _pdf_text(client.get(f"/staff/tips/{tip.public_ref}/export.pdf").data)
    flat_pdf = re.sub(r"\s+", " ", pdf)
    for f in fields.TIP_FIELDS:
        if f.flag:
            assert record["fields"][f.name]["value"] is True
            assert f.label in page and f.label in flat_pdf
            continue
        value = FILLED[f.name]
        assert value in page, f.name
        assert record["fields"][f.name]["value"] == value, f.name
        assert value in flat_pdf, f.name
        assert f.label in page and f.label in flat_pdf, f.name
    # The whole dialog, the photo (digest and size), tags, notes, readable local times.
    assert [t["text"] for t in record["dialog"]] == ["QUESTION-what colour?", "ANSWER-red"]
    assert "QUESTION-what colour?" in flat_pdf and "ANSWER-red" in flat_pdf
    [photo] = record["photos"]
    assert len(photo["sha256"]) == 64 and photo["bytes"] > 0
    assert photo["sha256"] in flat_pdf
    assert record["tags"] == ["camera"] and "NOTE-checked the camera" in flat_pdf
    assert record["time_zone"] == "America/Chicago"
    assert record["received_at"]["local"].endswith(("CST", "CDT"))
    assert record["received_at"]["local"] in flat_pdf
    # The photo is drawn into the PDF, and shown inline on the page.
    raw = client.get(f"/staff/tips/{tip.public_ref}/export.pdf").data
    assert re.search(rb"/Subtype\s*/Image", raw)
    assert re.search(r'<img src="/staff/tips/[^"]+/photos/[^"]+\?inline=1"', page)


def test_the_tip_page_leads_with_what_the_tipster_gave(app, session, make_staff):
    key = receipts.receipt_key(app.secret_key)
    tip, _ = tips.submit_tip(session, tips.TipReport(**FILLED), key, data_key=DATA_KEY)
    session.commit()
    make_staff(Role.DETECTIVE, "det")
    client = app.test_client()
    sign_in(client, "det")
    page = client.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)
    plate = page.index("PL8 123")
    assert plate < page.index("Claim this tip") and plate < page.index("Internal notes")
    assert page.index(FILLED["contact"]) < page.index("Claim this tip")
    assert re.search(r"\((due in \d+ (min|h|days))\)", page)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d C[SD]T", page)
    assert session.scalar(select(Tip.id)) == tip.id
