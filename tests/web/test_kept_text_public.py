"""Nothing a tipster typed is dropped: a rate limit, a photo with another field wrong, a
notice resolved mid-typing and a receipt session that ended all give the text back."""

import io

from sqlalchemy import func, select

from tipline.notices.models import Resolution
from tipline.tips.models import Tip, TipMessage

from ..conftest import csrf_token, resolve_notice
from ..unit.test_media import jpeg_with_gps
from .tipster import form_token, open_receipt, send_tip


def _count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def test_a_photo_with_another_field_wrong_says_choose_it_again(client, session):
    response, code = send_tip(
        client, photos=[jpeg_with_gps()], seen_when="x" * 300, narrative="By the levee"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and code is None
    assert "Your photo was not sent: please choose it again." in page
    assert "By the levee" in page


def test_a_notice_resolved_while_typing_offers_a_general_tip_with_the_text(
    client, session, published_notice
):
    url = f"/notices/{published_notice.slug}/tip"
    page = client.get(url).get_data(as_text=True)
    token = csrf_token(client, url)
    resolve_notice(session, published_notice, Resolution.ARRESTED)
    session.commit()
    response = client.post(
        url,
        data={
            "csrf_token": token,
            "form_token": form_token(page),
            "narrative": "He was at the bus station",
            "seen_where": "Union Passenger Terminal",
        },
    )
    kept = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "This notice was resolved while you were writing" in kept
    assert "He was at the bus station" in kept and "Union Passenger Terminal" in kept
    assert 'action="/tip"' in kept
    assert _count(session, Tip) == 0
    sent = client.post(
        "/tip",
        data={
            "csrf_token": token,
            "form_token": form_token(kept),
            "narrative": "He was at the bus station",
        },
    )
    assert sent.status_code == 200 and _count(session, Tip) == 1


def test_an_answer_typed_as_the_receipt_session_ends_comes_back(app, client, session):
    _, code = send_tip(client)
    assert open_receipt(client, code).status_code == 303
    token = csrf_token(client, "/receipt")
    app.config["RECEIPT_SESSION_MINUTES"] = 0
    open_receipt(client, code)  # a session that is already over
    answer = "The car was a grey Camry"
    response = client.post(
        "/receipt/answer",
        data={
            "csrf_token": token,
            "body": answer,
            "photos": [(io.BytesIO(jpeg_with_gps()), "a.jpg")],
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and answer in page
    assert "closed by itself while you were typing" in page
    assert "choose it again" in page
    app.config["RECEIPT_SESSION_MINUTES"] = 20
    reopened = client.post(
        "/receipt",
        data={"csrf_token": csrf_token(client, "/receipt"), "code": code, "answer": answer},
    )
    page = reopened.get_data(as_text=True)
    assert reopened.status_code == 200 and "Status:" in page and answer in page
    assert _count(session, TipMessage) == 0  # kept in the box, not sent behind their back


def test_a_rate_limited_answer_comes_back_with_its_text(app, client, session):
    _, code = send_tip(client, environ={"REMOTE_ADDR": "192.0.2.99"})
    app.config["ANSWER_RATE_LIMIT"] = "1 per minute"  # answers have their own counter
    me = {"REMOTE_ADDR": "192.0.2.98"}
    open_receipt(client, code, me)
    token = csrf_token(client, "/receipt")
    first = client.post(
        "/receipt/answer", data={"csrf_token": token, "body": "First"}, environ_base=me
    )
    assert first.status_code == 303
    refused = client.post(
        "/receipt/answer", data={"csrf_token": token, "body": "Second, longer"}, environ_base=me
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "Second, longer" in page and "your answer was not sent yet" in page


def test_a_rate_limited_code_keeps_the_answer_it_carried(app, client, session):
    """The code form carrying an answer kept from an ended receipt session, refused by the
    lookup limit: the answer stays in its box with a wait message; the code is not echoed."""
    _, code = send_tip(client, environ={"REMOTE_ADDR": "192.0.2.97"})
    app.config["RECEIPT_RATE_LIMIT"] = "1 per minute"
    me = {"REMOTE_ADDR": "192.0.2.96"}
    token = csrf_token(client, "/receipt")
    answer = "He left in a white van towards the bridge"
    data = {"csrf_token": token, "code": "WRONG-CODE", "answer": answer}
    assert client.post("/receipt", data=data, environ_base=me).status_code == 400
    refused = client.post("/receipt", data={**data, "code": code}, environ_base=me)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert answer in page and "your code was not checked yet" in page
    assert code not in page
    plain = client.post("/receipt", data={"csrf_token": token, "code": code}, environ_base=me)
    assert plain.status_code == 429 and "nothing in it was kept" in plain.get_data(as_text=True)
    assert _count(session, TipMessage) == 0
