"""The receipt dialog: status, a detective's question, the tipster's answer and photos, leaving."""

import io
import re

from PIL import Image
from sqlalchemy import event, func, select

from tipline import db
from tipline.auth.models import Role
from tipline.tips.models import Tip, TipAttachment, TipMessage

from ..conftest import csrf_token, sign_in
from ..unit.test_media import jpeg_with_gps
from .conftest import staff_client
from .tipster import open_receipt, send_tip


def _detective(app, make_staff):
    return staff_client(app, make_staff, Role.DETECTIVE, "det-1")


def test_full_dialog_question_answer_photos_and_leave(app, client, session, make_staff):
    response, code = send_tip(
        client, there_now="y", vehicle_plate="abc 123", landmark="Gas station"
    )
    assert response.status_code == 200 and code
    tip = session.scalar(select(Tip))
    assert tip.there_now and tip.vehicle_plate == "ABC 123" and tip.landmark == "Gas station"

    staff = _detective(app, make_staff)
    page = staff.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)
    assert 'id="dialog"' in page and "Gas station" in page and "ABC 123" in page
    token = csrf_token(staff, f"/staff/tips/{tip.public_ref}")
    asked = staff.post(
        f"/staff/tips/{tip.public_ref}/questions",
        data={"csrf_token": token, "body": "What colour was her jacket?"},
    )
    assert asked.status_code == 303

    opened = open_receipt(client, code.lower().replace("-", " "))
    assert opened.status_code == 303 and opened.headers["Location"] == "/receipt"
    page = client.get("/receipt")
    text = page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert "Status: <strong>Received</strong>" in text
    assert "What colour was her jacket?" in text
    assert "Seen by the levee" not in text  # the tip itself is not shown back
    assert code not in text

    answered = client.post(
        "/receipt/answer",
        data={
            "csrf_token": csrf_token(client, "/receipt"),
            "body": "Red, with a hood.",
            "photos": [(io.BytesIO(jpeg_with_gps()), "later.jpg")],
        },
    )
    assert answered.status_code == 303
    assert "Red, with a hood." in client.get("/receipt").get_data(as_text=True)
    page = staff.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)
    assert "Red, with a hood." in page and "Tipster answered" in page and "added later" in page
    assert session.scalar(select(func.count()).select_from(TipMessage)) == 2

    left = client.post("/receipt/leave", data={"csrf_token": csrf_token(client, "/receipt")})
    assert left.status_code == 303
    after = client.get("/receipt").get_data(as_text=True)
    assert "You have left" in after and "What colour was her jacket?" not in after
    refused = client.post(
        "/receipt/answer", data={"csrf_token": csrf_token(client, "/receipt"), "body": "x"}
    )
    assert refused.status_code == 303  # back to the code form: the session is over
    assert session.scalar(select(func.count()).select_from(TipMessage)) == 2


def test_photo_is_stored_and_served_to_staff_without_gps_exif_xmp_or_comment(
    app, client, session, make_staff
):
    response, _code = send_tip(client, photos=[jpeg_with_gps()])
    assert response.status_code == 200
    tip = session.scalar(select(Tip))
    stored = session.scalar(select(TipAttachment))
    assert b"SecretCam" not in stored.sealed and b"Exif" not in stored.sealed

    staff = _detective(app, make_staff)
    page = staff.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)
    url = f"/staff/tips/{tip.public_ref}/photos/{stored.public_ref}"
    assert f'href="{url}"' in page
    served = staff.get(url)
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert served.headers["Cache-Control"] == "no-store"
    data = served.get_data()
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and dict(image.getexif()) == {}
    assert not ({"exif", "xmp", "comment"} & set(image.info))
    for secret in [b"SecretCam", b"Serial-12345", b"Secret St", b"TRAILING-SECRET", b"Exif"]:
        assert secret not in data

    # Not for the public, nor for a PIO.
    assert client.get(url).status_code == 303  # to sign-in
    make_staff(Role.PIO, "pio-1")
    pio = app.test_client()
    sign_in(pio, "pio-1")
    assert pio.get(url).status_code == 403


def test_a_non_image_is_refused_plainly_and_the_rest_of_the_form_is_kept(client, session):
    response, code = send_tip(
        client,
        photos=[b"%PDF-1.4 not an image"],
        seen_where="Corner of Elysian Fields",
        companions="Two men",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and code is None
    assert "The photo must be a JPEG, PNG or WebP image" in page
    assert "Corner of Elysian Fields" in page and "Two men" in page
    assert session.scalar(select(func.count()).select_from(Tip)) == 0


def test_too_many_photos_are_refused(app, client, session):
    app.config["MAX_TIP_PHOTOS"] = 1
    response, _ = send_tip(client, photos=[jpeg_with_gps(), jpeg_with_gps()])
    assert response.status_code == 400
    assert "at most 1 photo" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Tip)) == 0


def test_any_wrong_code_gets_the_same_answer_and_the_same_work(app, client, session):
    send_tip(client)
    statements = []

    def count(*_args):
        statements.append(1)

    answers = []
    with app.app_context():
        engine = db.engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        for wrong in ["7K3M-QX9P-2D4F-HJ8R-WN5T", "nonsense", "", "0" * 19]:
            token = csrf_token(client, "/receipt")
            statements.clear()
            response = client.post("/receipt", data={"csrf_token": token, "code": wrong or " "})
            page = re.sub(r'value="[^"]*"', "", response.get_data(as_text=True))  # CSRF tokens
            answers.append((response.status_code, len(statements), page))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    well_formed, malformed = answers[0], answers[1]
    assert answers[3] == well_formed  # an empty box ([2]) is told to type a code instead
    assert well_formed[0] == malformed[0] == 400
    assert well_formed[1] == malformed[1]  # the same lookup happens for a malformed code
    assert well_formed[2] == malformed[2]  # and the page is the same, byte for byte
    assert "We could not find a tip with that code" in well_formed[2]
    assert "nonsense" not in malformed[2]


def test_receipt_session_expires(app, client):
    _, code = send_tip(client)
    app.config["RECEIPT_SESSION_MINUTES"] = 0
    assert open_receipt(client, code).status_code == 303
    page = client.get("/receipt").get_data(as_text=True)
    assert "Your receipt session ended" in page and "Status:" not in page


def test_the_code_is_only_posted_never_read_from_a_url(client):
    _, code = send_tip(client)
    page = client.get(f"/receipt?code={code}").get_data(as_text=True)
    assert "Status:" not in page and "Check on your tip" in page


def test_staff_can_mark_spam_and_nothing_is_deleted(app, client, session, make_staff):
    send_tip(client)
    tip = session.scalar(select(Tip))
    staff = _detective(app, make_staff)
    token = csrf_token(staff, f"/staff/tips/{tip.public_ref}")
    assert (
        staff.post(f"/staff/tips/{tip.public_ref}/spam", data={"csrf_token": token}).status_code
        == 303
    )
    session.expire_all()
    tip = session.scalar(select(Tip))
    assert tip.spam_marked_at is not None and tip.narrative == "Seen by the levee"
    assert "Marked as spam" in staff.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)


def test_robots_txt_keeps_crawlers_off_tip_and_receipt_pages(client):
    response = client.get("/robots.txt")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    for path in ["Disallow: /tip", "Disallow: /notices/*/tip", "Disallow: /receipt"]:
        assert path in text


def test_an_error_mid_way_leaves_no_half_tip_and_keeps_the_text(app, client, session):
    # Nothing can be sealed (the form's receipt copy, the photos): the tip is refused before
    # its row is written, and what was typed comes back.
    app.config["DATA_KEY"] = "not a key"
    response, code = send_tip(client, photos=[jpeg_with_gps()], seen_where="Bourbon St")
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and code is None
    assert "Your tip was not saved" in page and "Bourbon St" in page
    assert session.scalar(select(func.count()).select_from(Tip)) == 0
    assert session.scalar(select(func.count()).select_from(TipAttachment)) == 0


def test_a_wrong_data_key_is_shown_loudly_on_the_tip_page(app, client, session, make_staff):
    send_tip(client, contact="Call Sam")
    tip = session.scalar(select(Tip))
    staff = _detective(app, make_staff)
    assert "Call Sam" in staff.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)
    app.config["DATA_KEY"] = "b3RoZXIta2V5LW9mLWV4YWN0bHktMzItYnl0ZXMhISE="
    page = staff.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)
    assert "Call Sam" not in page
    assert "Cannot be shown" in page and "TIPLINE_DATA_KEY" in page
    assert "Seen by the levee" in page  # the rest of the tip is still readable
