"""The notice itself in the reader's language: the PIO's Spanish and Vietnamese caution,
details and reward are shown when given; English text on a page in another language is
marked lang="en" (WCAG 3.1.2)."""

from __future__ import annotations

import re

from tipline.notices import services as notices

from ..conftest import approve_pending_edit, publish_new_notice


def _part(page: str, css_class: str) -> str:
    return re.search(rf'<p class="{css_class}"[^>]*>.*?</p>', page, re.S).group(0)


def test_translated_parts_are_shown_and_english_parts_are_marked(client, session):
    notice = publish_new_notice(
        session,
        description="Worked as a dispatcher.",
        translations={"es": {"caution": "No se acerque. Llame al 911."}},
    )
    session.commit()
    spanish = client.get(f"/notices/{notice.slug}?lang=es").get_data(as_text=True)
    assert '<html lang="es">' in spanish
    assert "<span>No se acerque. Llame al 911.</span>" in _part(spanish, "caution")
    assert '<p lang="en">Worked as a dispatcher.</p>' in spanish
    assert '<p class="notice-summary" lang="en">' in spanish
    assert '<span lang="en">Malfeasance in office</span>' in spanish
    assert 'class="contact-label" lang="en"' in spanish

    vietnamese = client.get(f"/notices/{notice.slug}?lang=vi").get_data(as_text=True)
    assert '<span lang="en">Do not approach' in _part(vietnamese, "caution")

    english = client.get(f"/notices/{notice.slug}").get_data(as_text=True)
    assert 'lang="en">' not in english.split("<main", 1)[1].replace('<html lang="en">', "")
    assert "No se acerque" not in english


def test_translations_of_a_public_notice_are_reviewed_with_the_rest(client, session):
    notice = publish_new_notice(session)
    session.commit()
    draft = notices.draft_of(notice)
    changed = notices.update_notice(
        session,
        notice,
        notices.NoticeDraft(
            **{**draft.__dict__, "translations": {"vi": {"reward_text": "Thưởng tới 2.500 đô la"}}}
        ),
        "test-pio",
    )
    assert changed == ["translations"]
    session.commit()
    assert "Thưởng tới 2.500 đô la" not in client.get(f"/notices/{notice.slug}?lang=vi").get_data(
        as_text=True
    )
    approve_pending_edit(session, notice)
    session.commit()
    assert "Thưởng tới 2.500 đô la" in client.get(f"/notices/{notice.slug}?lang=vi").get_data(
        as_text=True
    )
