"""A contact line's note ("Ask for Det. Smith", the hours) in the reader's language: the PIO
gives it in Spanish and Vietnamese with the other translations, for the notice's own lines and
the agency's; the reviewer sees it before approving; on a published notice a new translation
waits for a second person; the public page and the tip form show it, marked by language."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator
from sqlalchemy import select

from tipline.auth.models import Role
from tipline.notices import feeds
from tipline.notices import services as notices
from tipline.notices.models import ContactLine, Notice
from tipline.notices.services import ContactDraft
from tipline.web.outage import FormMemory

from ..conftest import approve_pending_edit, csrf_token, publish_new_notice, resolve_notice
from .conftest import staff_client
from .test_pio import create_through_form, notice_form, post_button

SPANISH = "Pregunte por el detective Smith."
VIETNAMESE = "Xin gặp thám tử Smith."


def _notes(page: str) -> list[str]:
    return re.findall(r'<span class="contact-note"[^>]*>[^<]*</span>', page)


def _live(session) -> Notice:
    session.rollback()  # a fresh read of what the requests committed
    return session.scalar(select(Notice))


def test_pio_translates_the_notes_of_own_and_agency_lines_with_the_other_translations(
    pio_client, session, agency_lines
):
    crimestoppers = agency_lines[1]
    url = create_through_form(
        pio_client,
        agency_lines,
        **{
            "contact_lines-0-note": "Ask for Det. Smith.",
            "contact_lines-0-note_es": SPANISH,
            "contact_lines-0-note_vi": VIETNAMESE,
            "default_notes-0-line_id": str(crimestoppers.id),
            "default_notes-0-note_es": "Anónimo.",
            "default_notes-0-note_vi": "",
        },
    )
    notice = _live(session)
    assert [(c.label, c.note, c.note_translations) for c in notice.contact_lines] == [
        ("Crimestoppers", "Anonymous.", {"es": "Anónimo."}),
        ("Robbery Division", "Ask for Det. Smith.", {"es": SPANISH, "vi": VIETNAMESE}),
    ]
    # The agency's own line is not changed by one notice's translation.
    assert session.get(type(crimestoppers), crimestoppers.id).note_translations == {}

    page = pio_client.get(f"{url}/edit").get_data(as_text=True)
    translations = page[page.index("Translations (optional)") :]
    assert (
        f'<input id="contact_lines-0-note_es" lang="es" maxlength="300" '
        f'name="contact_lines-0-note_es" type="text" value="{SPANISH}">'
    ) in translations
    assert 'lang="vi" maxlength="300" name="contact_lines-0-note_vi"' in translations
    assert (
        'lang="es" maxlength="300" name="default_notes-0-note_es" type="text" value="Anónimo."'
        in (translations)
    )
    assert "Note of line 1 of this notice (Robbery Division) in Spanish" in translations
    assert "Note of Crimestoppers (504-822-1111) in Vietnamese" in translations
    assert "In English: “Ask for Det. Smith.”" in translations
    # The labels are English words on an English page; only what is typed is in Spanish.
    assert '<div lang="es">' not in page


def test_an_agency_line_starts_with_the_agency_translation(pio_client, session, agency_lines):
    agency_lines[1].note_translations = {"vi": "Ẩn danh."}
    session.commit()
    page = pio_client.get("/staff/notices/new").get_data(as_text=True)
    assert 'name="default_notes-0-note_vi" type="text" value="Ẩn danh."' in page
    # Sent back as shown (or not at all, by a client that leaves the field out): kept.
    create_through_form(pio_client, agency_lines)
    assert _live(session).contact_lines[0].note_translations == {"vi": "Ẩn danh."}
    # Emptied by the PIO: this notice shows the English note.
    create_through_form(
        pio_client,
        agency_lines,
        **{"default_notes-0-line_id": str(agency_lines[1].id), "default_notes-0-note_vi": ""},
    )
    session.rollback()
    newest = session.scalars(select(Notice).order_by(Notice.id.desc())).first()
    assert newest.contact_lines[0].note_translations == {}


def test_a_translated_note_needs_the_english_note(pio_client, session, agency_lines):
    token = csrf_token(pio_client, "/staff/notices/new")
    data = notice_form(token, agency_lines, **{"contact_lines-0-note_es": SPANISH})
    response = pio_client.post("/staff/notices/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Write this line&#39;s note in English too" in page
    assert 'href="#contact_lines-0-note_es"' in page
    assert f'value="{SPANISH}"' in page  # nothing typed is lost
    assert session.scalar(select(Notice)) is None


def test_the_public_page_and_tip_form_show_the_note_in_the_reader_language(client, session):
    notice = publish_new_notice(
        session,
        contact_lines=[
            ContactDraft(
                "Robbery Division", "504-658-5300", "Ask for Det. Smith.", {"es": SPANISH}
            ),
            ContactDraft("Crimestoppers", "504-822-1111"),
        ],
    )
    session.commit()
    for path in (f"/notices/{notice.slug}", f"/notices/{notice.slug}/tip"):
        spanish = client.get(f"{path}?lang=es").get_data(as_text=True)
        assert _notes(spanish) == [f'<span class="contact-note">{SPANISH}</span>']
        vietnamese = client.get(f"{path}?lang=vi").get_data(as_text=True)
        assert _notes(vietnamese) == [
            '<span class="contact-note" lang="en">Ask for Det. Smith.</span>'
        ]
        english = client.get(path).get_data(as_text=True)
        assert _notes(english) == ['<span class="contact-note">Ask for Det. Smith.</span>']


def test_a_new_note_translation_on_a_published_notice_waits_for_a_second_person(
    app, client, session, pio_client, make_staff, agency_lines
):
    url = create_through_form(
        pio_client, agency_lines, **{"contact_lines-0-note": "Ask for Det. Smith."}
    )
    post_button(pio_client, url, f"{url}/submit")
    other = staff_client(app, make_staff, Role.PIO, "pio-bob")
    post_button(other, url, f"{url}/approve")
    slug = _live(session).slug

    token = csrf_token(pio_client, f"{url}/edit")
    data = notice_form(
        token,
        agency_lines,
        **{"contact_lines-0-note": "Ask for Det. Smith.", "contact_lines-0-note_vi": VIETNAMESE},
    )
    assert pio_client.post(f"{url}/edit", data=data).status_code == 303
    notice = _live(session)
    change = notice.pending_changes[0]
    assert change.fields == ["contact_lines"]
    assert VIETNAMESE not in client.get(f"/notices/{slug}?lang=vi").get_data(as_text=True)

    # The reviewer reads the translation, marked as Vietnamese, before the approval.
    preview = other.get(f"{url}/preview?change={change.id}").get_data(as_text=True)
    assert f'<dd lang="vi">{VIETNAMESE}</dd>' in preview
    assert preview.index(VIETNAMESE) < preview.index("Approve and publish")
    # Its author may not approve it.
    post_button(pio_client, url, f"{url}/changes/{change.id}/approve")
    assert VIETNAMESE not in client.get(f"/notices/{slug}?lang=vi").get_data(as_text=True)

    assert post_button(other, url, f"{url}/changes/{change.id}/approve").status_code == 303
    page = client.get(f"/notices/{slug}?lang=vi").get_data(as_text=True)
    assert f'<span class="contact-note">{VIETNAMESE}</span>' in page
    notice = _live(session)
    assert notice.versions[-1].snapshot["contact_lines"][1]["note_translations"] == {
        "vi": VIETNAMESE
    }


def test_a_note_translation_is_never_a_typo_fix(session):
    notice = publish_new_notice(
        session, contact_lines=[ContactDraft("Robbery Division", "504-658-5300", "Ask for Smith.")]
    )
    draft = notices.draft_of(notice)
    changed = notices.update_notice(
        session,
        notice,
        notices.NoticeDraft(
            **{
                **draft.__dict__,
                "contact_lines": [
                    ContactDraft("Robbery Division", "504-658-5300", "Ask for Smith.", {"es": "Sí"})
                ],
            }
        ),
        "test-pio",
    )
    assert changed == ["contact_lines"]
    assert notice.contact_lines[0].note_translations == {}
    approve_pending_edit(session, notice)
    assert notice.contact_lines[0].note_translations == {"es": "Sí"}


def test_the_api_gives_the_translations_by_language(client, session):
    notice = publish_new_notice(
        session,
        translations={"es": {"caution": "No se acerque."}, "vi": {"reward_text": "Có thưởng."}},
        contact_lines=[
            ContactDraft(
                "Robbery Division", "504-658-5300", "Ask for Det. Smith.", {"es": SPANISH}
            ),
            ContactDraft("Crimestoppers", "504-822-1111"),
        ],
    )
    session.commit()
    body = client.get(f"/api/v1/notices/{notice.slug}").get_json()
    Draft202012Validator(feeds.NOTICE_SCHEMA).validate(body)
    assert body["translations"] == {
        "es": {"caution": "No se acerque."},
        "vi": {"reward_text": "Có thưởng."},
    }
    assert [line["note_translations"] for line in body["contact_lines"]] == [{"es": SPANISH}, {}]
    listed = client.get("/api/v1/notices").get_json()["notices"][0]
    assert listed["contact_lines"][0]["note_translations"] == {"es": SPANISH}

    # Resolved: no caution in any language.
    resolve_notice(session, notice)
    session.commit()
    body = client.get(f"/api/v1/notices/{notice.slug}").get_json()
    Draft202012Validator(feeds.NOTICE_SCHEMA).validate(body)
    assert body["caution"] == "" and body["translations"] == {"vi": {"reward_text": "Có thưởng."}}


def test_a_tip_form_drawn_while_the_database_is_down_keeps_the_translated_notes():
    memory = FormMemory()
    line = ContactLine(
        label="Robbery Division",
        phone="504-658-5300",
        note="Ask for Det. Smith.",
        note_translations={"es": SPANISH},
    )
    memory.remember(None, [line])
    (kept,) = memory.lines(None)
    assert kept.note_in("es") == (SPANISH, None)
    assert kept.note_in("vi") == ("Ask for Det. Smith.", "en")
    assert kept.note_in("en") == ("Ask for Det. Smith.", None)
