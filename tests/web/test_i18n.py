"""The public pages in English, Spanish and Vietnamese: chosen by ``?lang=`` or the browser's
``Accept-Language``, never stored; staff pages and the API stay English."""

from __future__ import annotations

import gettext
import html
import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from tipline import ROOT, i18n
from tipline.tips.models import Tip

from ..conftest import csrf_token
from .tipster import form_token, open_receipt, send_tip

TRANSLATIONS = ROOT / "tipline" / "translations"


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)"', page).group(1)


#: One key phrase per public page and language, and the "call 911" line of the tip forms.
PAGES = {
    "gallery": ("/", {"es": "Se busca", "vi": "Truy nã"}),
    "tip form": ("/tip", {"es": "¿Qué vio?", "vi": "Quý vị đã thấy gì?"}),
    "receipt lookup": ("/receipt", {"es": "Consulte su aviso", "vi": "Xem lại tin báo"}),
    "not found": ("/no-such-page", {"es": "Página no encontrada", "vi": "Không tìm thấy trang"}),
}
CALL_911 = {
    "es": 'Llame primero al <a href="tel:911">911</a>.',
    "vi": 'Hãy gọi <a href="tel:911">911</a> trước.',
}


@pytest.mark.parametrize("lang", ["es", "vi"])
@pytest.mark.parametrize("name", list(PAGES))
def test_each_public_page_is_translated_with_its_html_lang(client, lang, name):
    url, phrases = PAGES[name]
    page = text_of(client.get(f"{url}?lang={lang}"))
    assert html_lang(page) == lang
    assert phrases[lang] in page
    # The footer's emergency line is on every public page.
    footer = {"es": "¿Está en peligro ahora mismo?", "vi": "Đang gặp nguy hiểm ngay lúc này?"}
    assert footer[lang] in page
    assert "In danger right now?" not in page


@pytest.mark.parametrize("lang", ["es", "vi"])
def test_notice_page_and_its_tip_form_are_translated_but_not_the_pio_text(
    client, published_notice, lang
):
    page = text_of(client.get(f"/notices/{published_notice.slug}?lang={lang}"))
    assert html_lang(page) == lang
    seen = {"es": "¿Ha visto a esta persona? Llame al", "vi": "Đã thấy người này? Hãy gọi"}
    warrant = {"es": "Buscado con orden de arresto por", "vi": "Bị truy nã theo lệnh bắt vì"}
    innocent = {"es": "Toda persona se presume inocente", "vi": "Mọi người đều được coi là vô tội"}
    for phrase in (seen[lang], warrant[lang], innocent[lang]):
        assert phrase in page
    # What the PIO wrote stays as written.
    assert published_notice.subject_name in page
    for charge in published_notice.charges:
        assert charge.description in page
    form = client.get(f"/notices/{published_notice.slug}/tip?lang={lang}").get_data(as_text=True)
    box = re.search(r'<div class="call-911"[^>]*>(.*?)</div>', form, re.S).group(1)
    assert CALL_911[lang] in html.unescape(box)


def test_english_stays_the_default_at_the_same_urls(client, published_notice):
    for url in ["/", f"/notices/{published_notice.slug}", "/tip", "/receipt"]:
        page = client.get(url).get_data(as_text=True)
        assert html_lang(page) == "en", url
    box = client.get("/tip").get_data(as_text=True)
    assert "In immediate danger, or they are there right now?" in box


@pytest.mark.parametrize(
    ("header", "expected"),
    [("vi-VN,vi;q=0.9,en;q=0.5", "vi"), ("es-MX,es;q=0.8", "es"), ("fr-FR,fr", "en"), ("", "en")],
)
def test_accept_language_picks_the_language_and_says_it_varies(client, header, expected):
    headers = {"Accept-Language": header} if header else {}
    response = client.get("/", headers=headers)
    assert html_lang(response.get_data(as_text=True)) == expected
    assert "Accept-Language" in response.headers.get("Vary", "")


def test_lang_on_the_url_overrides_accept_language_and_does_not_vary(client):
    response = client.get("/?lang=es", headers={"Accept-Language": "vi"})
    page = text_of(response)
    assert html_lang(page) == "es" and "Se busca" in page
    assert "Accept-Language" not in response.headers.get("Vary", "")
    # An unknown language on the URL falls back to negotiation.
    fallback = client.get("/?lang=xx", headers={"Accept-Language": "vi"})
    assert html_lang(fallback.get_data(as_text=True)) == "vi"


def test_links_and_switcher_carry_the_chosen_language(client, published_notice):
    page = client.get("/?lang=vi").get_data(as_text=True)
    assert f'href="/notices/{published_notice.slug}?lang=vi"' in page
    assert 'href="/tip?lang=vi"' in page and 'href="/receipt?lang=vi"' in page
    assert "css/site.css?" not in page  # static files are the same in every language
    switcher = re.search(r'<nav aria-label="Ngôn ngữ" class="lang-switch">(.*?)</nav>', page, re.S)
    links = re.findall(r'<a href="([^"]+)" lang="(\w+)"[^>]*>([^<]+)</a>', switcher.group(1))
    assert [(href, code) for href, code, _ in links] == [
        ("/?lang=en", "en"),
        ("/?lang=es", "es"),
        ("/?lang=vi", "vi"),
    ]
    assert [name for *_, name in links] == ["English", "Español", "Tiếng Việt"]
    assert 'aria-current="true">Tiếng Việt' in page
    # Shared URLs (canonical, Open Graph) stay language-neutral.
    notice = client.get(f"/notices/{published_notice.slug}?lang=es").get_data(as_text=True)
    canonical = re.search(r'<link rel="canonical" href="([^"]+)"', notice).group(1)
    assert "lang=" not in canonical
    assert '<meta property="og:locale" content="es_US">' in notice


@pytest.mark.parametrize("lang", ["es", "vi"])
def test_reading_notices_in_any_language_sets_no_cookie(client, published_notice, lang):
    for url in ["/", f"/notices/{published_notice.slug}"]:
        by_url = client.get(f"{url}?lang={lang}")
        by_header = client.get(url, headers={"Accept-Language": lang})
        for response in (by_url, by_header):
            assert "Set-Cookie" not in response.headers, url
            assert html_lang(response.get_data(as_text=True)) == lang


def test_a_tip_sent_in_spanish_gets_a_spanish_receipt_and_is_stored_normally(
    client, session, published_notice
):
    url = f"/notices/{published_notice.slug}/tip?lang=es"
    response, code = send_tip(client, url, narrative="Lo vi en la parada del autobús")
    page = text_of(response)
    assert response.status_code == 200
    assert html_lang(page) == "es"
    assert "Gracias. Recibimos su aviso." in page
    assert "Su código de recibo" in page and code
    assert "Estado: <strong>Recibido</strong>" in page  # the public status, translated
    tip = session.scalars(select(Tip)).one()
    assert tip.narrative == "Lo vi en la parada del autobús"
    assert tip.notice_id == published_notice.id


def test_the_receipt_dialog_keeps_the_language_through_posts_and_redirects(client):
    _, code = send_tip(client, "/tip?lang=vi")
    token = csrf_token(client, "/receipt?lang=vi")
    wrong = client.post("/receipt?lang=vi", data={"csrf_token": token, "code": "0" * 20})
    assert "Chúng tôi không tìm thấy tin báo nào với mã đó." in text_of(wrong)
    lookup = client.get("/receipt?lang=vi").get_data(as_text=True)
    assert 'action="/receipt?lang=vi"' in lookup  # the form posts back in the same language
    opened = client.post("/receipt?lang=vi", data={"csrf_token": token, "code": code})
    assert opened.status_code == 303 and opened.headers["Location"] == "/receipt?lang=vi"
    page = text_of(client.get(opened.headers["Location"]))
    assert html_lang(page) == "vi"
    assert "Tình trạng: <strong>Đã nhận</strong>" in page
    assert re.search(r"Đã nhận ngày \d+ tháng \d+, \d{4}\.", page)
    assert 'action="/receipt/leave?lang=vi"' in page
    # English at the same URLs without a choice.
    assert open_receipt(client, code).headers["Location"] == "/receipt"


def test_validation_errors_come_out_in_the_chosen_language(client):
    page = client.get("/tip?lang=vi").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = {"csrf_token": token, "form_token": form_token(page), "narrative": ""}
    empty = client.post("/tip?lang=vi", data=data)
    assert empty.status_code == 400
    text = text_of(empty)
    assert "Vui lòng kiểm tra ô này" in text
    assert "Vui lòng cho chúng tôi biết quý vị đã thấy gì, dù chỉ vài chữ." in text
    data = {**data, "narrative": "x", "seen_when": "x" * 201}
    page = text_of(client.post("/tip?lang=es", data=data))
    assert "Use menos de 200 caracteres." in page
    long = {**data, "seen_when": "", "narrative": "x" * 20001}
    assert "Use menos de 20.000 caracteres." in text_of(client.post("/tip?lang=es", data=long))


def test_catalogs_are_parsed_once_per_language_not_once_per_request(client, monkeypatch):
    """Flask-Babel 4 and Flask-WTF would each read and parse a .mo file on every request."""
    parsed = []
    real_parse = gettext.GNUTranslations._parse

    def counting_parse(self, fp):
        parsed.append(getattr(fp, "name", "?"))
        return real_parse(self, fp)

    monkeypatch.setattr(gettext.GNUTranslations, "_parse", counting_parse)
    for lang, phrase in (("es", "¿Qué vio?"), ("vi", "Quý vị đã thấy gì?")):
        assert phrase in text_of(client.get(f"/tip?lang={lang}"))
    first = len(parsed)
    for lang, phrase in (("es", "¿Qué vio?"), ("vi", "Quý vị đã thấy gì?")) * 3:
        assert phrase in text_of(client.get(f"/tip?lang={lang}"))
    assert len(parsed) == first, parsed[first:]
    # WTForms' own messages still come in the request's language.
    assert i18n._wtforms_catalog("es").gettext("Not a valid integer value.") != (
        "Not a valid integer value."
    )


def test_a_refused_photo_is_explained_in_the_chosen_language(client, session):
    response, code = send_tip(client, "/tip?lang=es", photos=[b"not an image"])
    assert response.status_code == 400 and code is None
    page = text_of(response)
    assert "La foto debe ser una imagen JPEG, PNG o WebP. No podemos abrir este archivo." in page
    assert "Elija las fotos de nuevo." in page
    assert session.scalars(select(Tip)).first() is None


def test_error_pages_follow_the_language(client):
    refused = client.post("/?lang=es")
    assert refused.status_code == 405
    assert "Eso no funcionó" in text_of(refused)
    expired = client.post("/tip?lang=vi", data={"narrative": "x"})
    assert expired.status_code == 400
    assert "Biểu mẫu này đã hết hạn" in text_of(expired)


def test_staff_pages_and_the_api_stay_english(client):
    login = client.get("/staff/login?lang=es", headers={"Accept-Language": "es"})
    page = login.get_data(as_text=True)
    assert html_lang(page) == "en"
    assert "lang-switch" not in page
    api = client.get("/api/v1/notices/nobody", headers={"Accept-Language": "vi"})
    assert api.status_code == 404
    assert api.get_json()["error"]["message"] == "Page not found."


# -- the catalogs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str | tuple[str, ...]]:
    """Every msgid ``pybabel extract -F babel.cfg`` finds in the public templates and code."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-o",
            str(pot),
            str(ROOT),
        ]
    )
    with pot.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


@pytest.mark.parametrize("lang", ["es", "vi"])
def test_every_extracted_message_has_a_checked_translation(extracted, lang):
    assert len(extracted) > 150
    po_path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as f:
        catalog = read_po(f, locale=lang)
    assert not catalog.fuzzy
    for msgid in sorted(extracted, key=str):
        message = catalog.get(msgid)
        assert message is not None, f"{lang}: no entry for {msgid!r}"
        assert not message.fuzzy, f"{lang}: fuzzy {msgid!r}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), f"{lang}: empty translation of {msgid!r}"
    problems = [(m.id, errors) for m, errors in catalog.check() if errors]
    assert problems == []  # placeholders such as %(number)s match the msgid


def _key(value: str | list[str] | tuple[str, ...]) -> str | tuple[str, ...]:
    return value if isinstance(value, str) else tuple(value)


@pytest.mark.parametrize("lang", ["es", "vi"])
def test_compiled_catalogs_match_their_sources(lang):
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as f:
        po = {_key(m.id): _key(m.string) for m in read_po(f) if m.id}
    with (folder / "messages.mo").open("rb") as f:
        mo = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    assert mo == po, "run: pybabel compile -d tipline/translations"


def test_vietnamese_is_written_with_its_diacritics():
    with (TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    assert catalog.get("Send a tip").string == "Gửi tin báo"
    assert catalog.get("Your receipt code").string == "Mã biên nhận của quý vị"


def test_the_catalogs_ship_with_the_package():
    import tomllib

    config = tomllib.loads(Path(ROOT / "pyproject.toml").read_text())
    data = config["tool"]["setuptools"]["package-data"]["tipline"]
    assert "translations/*/LC_MESSAGES/*.mo" in data
