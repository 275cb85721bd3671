"""The JSON API: what it lists, how it pages and filters, what it never shows, and that its
answers match its own OpenAPI document."""

from __future__ import annotations

import json

import pytest
import schemathesis
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from sqlalchemy import select

from tipline.demo import DEMO_NOTICE
from tipline.notices import feeds
from tipline.notices import services as notices
from tipline.notices.models import Notice, NoticeStatus, Severity
from tipline.tips import services as tips
from tipline.tips.receipts import receipt_key

from ..conftest import SECRET, publish_new_notice
from . import openapi_fuzz


def add_notice(session, name: str, severity: Severity = Severity.FELONY, publish: bool = True):
    draft = notices.NoticeDraft(
        subject_name=name,
        aliases=[f"{name.split()[0]} the Alias"],
        charges=[notices.ChargeDraft("La. R.S. 14:30", "Some charge", severity)],
        description="Some details.",
        # Translations too, so the generated checks cover their place in the schema.
        translations={"vi": {"description": "Chi tiết."}},
        contact_lines=[
            notices.ContactDraft(
                "NOPD", "504-658-6030", "Ask for the desk.", {"es": "Pregunte en la recepción."}
            )
        ],
    )
    if publish:
        notice = publish_new_notice(session, draft)
    else:
        notice = notices.create_notice(session, draft, "pio")
    session.commit()
    return notice


def test_openapi_document_is_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any error
    notice_paths = {p for p in document["paths"] if not p.startswith("/log/")}
    assert notice_paths == {"/notices", "/notices/{slug}"}  # the log's: test_transparency.py


def test_list_shows_public_notices_newest_first_and_never_drafts(client, session):
    first = add_notice(session, "First Person")
    second = add_notice(session, "Second Person")
    add_notice(session, "Draft Person", publish=False)
    body = client.get("/api/v1/notices").get_json()
    assert [n["slug"] for n in body["notices"]] == [second.slug, first.slug]
    assert body["next_cursor"] is None and body["next"] is None


def test_keyset_pages_cover_every_notice_once(client, session):
    made = [add_notice(session, f"Person {i}").slug for i in range(5)]
    seen, url = [], "/api/v1/notices?limit=2"
    while url:
        body = client.get(url).get_json()
        assert len(body["notices"]) <= 2
        seen += [n["slug"] for n in body["notices"]]
        url = body["next"]
        if url:
            assert url.startswith("http://localhost/api/v1/notices?")
            assert "limit=2" in url and f"cursor={body['next_cursor']}" in url
    assert seen == list(reversed(made))


def test_filters_by_status_charge_class_and_text(client, session):
    felony = add_notice(session, "Felony Person", Severity.FELONY)
    misdemeanor = add_notice(session, "Petty Person", Severity.MISDEMEANOR)
    misdemeanor.status = NoticeStatus.RESOLVED
    session.commit()

    def slugs(query: str) -> list[str]:
        response = client.get(f"/api/v1/notices?{query}")
        assert response.status_code == 200, response.get_json()
        return [n["slug"] for n in response.get_json()["notices"]]

    assert slugs("status=resolved") == [misdemeanor.slug]
    assert slugs("status=published") == [felony.slug]
    assert slugs("charge_class=misdemeanor") == [misdemeanor.slug]
    assert slugs("q=PETTY") == [misdemeanor.slug]
    assert slugs("q=felony the alias") == [felony.slug]
    assert slugs("q=14:30") == [misdemeanor.slug, felony.slug]
    assert slugs("q=100%25") == []  # LIKE wildcards are matched literally


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=ten",
        "status=draft",
        "charge_class=tax",
        "cursor=abc",
        "status=published&status=resolved",
        "q=" + "x" * 101,
    ],
)
def test_bad_parameters_get_a_json_400_that_says_what_is_wrong(client, query):
    response = client.get(f"/api/v1/notices?{query}")
    assert response.status_code == 400
    assert response.content_type == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == 400
    assert query.split("=")[0] in error["message"]


def test_one_notice_and_json_404s_for_drafts_and_unknown_slugs(client, session, published_notice):
    body = client.get(f"/api/v1/notices/{published_notice.slug}").get_json()
    assert body["subject_name"] == "Alexis Jane Doe"
    assert [c["citation"] for c in body["charges"]] == ["La. R.S. 14:134", "La. R.S. 14:338"]
    assert [c["phone"] for c in body["contact_lines"]] == ["504-658-6030", "504-822-1111"]
    assert body["links"]["tip"] == f"http://localhost/notices/{published_notice.slug}/tip"

    draft = add_notice(session, "Draft Person", publish=False)
    for url in [f"/api/v1/notices/{draft.slug}", "/api/v1/notices/nobody", "/api/v1/nothing"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.content_type == "application/json"
        assert response.get_json()["error"]["status"] == 404


def test_wrong_method_is_a_json_405_with_allow(client):
    response = client.post("/api/v1/notices")
    assert response.status_code == 405
    assert response.content_type == "application/json"
    assert "GET" in response.headers["Allow"]


def test_api_shows_nothing_about_tips_or_staff(client, session, published_notice):
    tips.submit_tip(
        session,
        tips.TipReport(narrative="SECRET-TIP-TEXT she is at the bus station"),
        receipt_key(SECRET),
        notice=published_notice,
    )
    session.commit()
    raw = json.dumps(
        [
            client.get("/api/v1/notices").get_json(),
            client.get(f"/api/v1/notices/{published_notice.slug}").get_json(),
        ]
    )
    assert "SECRET-TIP-TEXT" not in raw
    for word in ["tip_count", "case_number", "created_by", "actor", '"id"']:
        assert word not in raw


def test_public_base_url_makes_the_absolute_urls(app, client, published_notice):
    app.config["PUBLIC_BASE_URL"] = "https://tips.example.org/"
    body = client.get(f"/api/v1/notices/{published_notice.slug}").get_json()
    assert body["url"] == f"https://tips.example.org/notices/{published_notice.slug}"
    assert body["links"]["cap"].startswith("https://tips.example.org/notices/")


# --- Schemathesis: generated requests, every built-in check (see openapi_fuzz.py) -----------


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_api_answers_match_the_openapi_document(app, session, mode):
    listed = [
        add_notice(session, f"Listed Person {i}", Severity.MISDEMEANOR if i else Severity.FELONY)
        for i in range(3)
    ]
    resolved = add_notice(session, "Resolved Person")
    resolved.status = NoticeStatus.RESOLVED
    notices.create_notice(session, DEMO_NOTICE, "pio")  # a draft, which must stay hidden
    session.commit()
    # The notice operations; the transparency log's are fuzzed in test_transparency.py.
    notice_operations = openapi_fuzz.operations(app, "/notices")
    assert len(notice_operations) == 2
    for operation in notice_operations:
        openapi_fuzz.fuzz(operation, mode)

    # Generated slugs almost never name a notice, so the notice's own answer is checked
    # against the document for each kind that exists (published, resolved, a hidden draft).
    detail = next(o for o in notice_operations if "{slug}" in o.path)
    for notice in [*listed, resolved]:
        answer = detail.Case(path_parameters={"slug": notice.slug}).call_and_validate()
        assert answer.status_code == 200
    draft = session.scalars(select(Notice).where(Notice.status == NoticeStatus.DRAFT)).one()
    assert detail.Case(path_parameters={"slug": draft.slug}).call_and_validate().status_code == 404


@pytest.mark.slow
def test_the_document_check_fails_on_an_answer_the_document_does_not_allow(
    app, session, monkeypatch
):
    """The check above can fail: with one property renamed in the served document, a
    published notice's answer no longer conforms."""
    notice = add_notice(session, "Listed Person")
    session.commit()
    properties = dict(feeds.NOTICE_SCHEMA["properties"])
    properties["subject"] = properties.pop("subject_name")
    required = [n if n != "subject_name" else "subject" for n in feeds.NOTICE_SCHEMA["required"]]
    monkeypatch.setitem(feeds.NOTICE_SCHEMA, "properties", properties)
    monkeypatch.setitem(feeds.NOTICE_SCHEMA, "required", required)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    detail = next(o.ok() for o in schema.get_all_operations() if "{slug}" in o.ok().path)
    with pytest.raises(FailureGroup) as failure:
        detail.Case(path_parameters={"slug": notice.slug}).call_and_validate()
    found = "\n".join(str(f) for f in failure.value.exceptions)
    assert "'subject_name' was unexpected" in found


@pytest.mark.parametrize("slug", ["%00", "a%00b", "UPPER", "x" * 121, "caf%C3%A9"])
def test_odd_slugs_are_json_404s_not_errors(client, slug):
    response = client.get(f"/api/v1/notices/{slug}")
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404
