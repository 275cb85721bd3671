"""The PIO's screens: writing a notice through the forms, the two-person approval, resolving,
archiving, photos from upload to the public URL, and who may open what."""

import io
import random
import re
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import select

from tipline import audit
from tipline.auth.models import Role
from tipline.notices import photos, workflow
from tipline.notices import services as notices
from tipline.notices.models import Notice, NoticeStatus, Resolution
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.triage import services as triage

from ..conftest import approve_pending_edit, csrf_token, resolve_notice, sign_in
from ..unit.test_media import jpeg_with_gps
from .conftest import staff_client


def notice_form(token, agency_lines, **extra):
    data = {
        "csrf_token": token,
        "subject_name": "Jordan Q. Example",
        "aliases": "JQ\nJordy",
        "sex": "Male",
        "age": "29",
        "height": "6 ft 1 in",
        "last_known_area": "Mid-City",
        "caution": "Do not approach. Call 911.",
        "reward_text": "Up to $2,500.",
        "case_number": "CASE-SECRET-4411",
        "default_lines": [str(agency_lines[1].id)],
        "charges-0-citation": "La. R.S. 14:64",
        "charges-0-description": "Armed robbery",
        "charges-0-severity": "felony",
        "charges-0-warrant_date": "2026-11-01",
        "charges-1-citation": "",
        "charges-1-description": "",
        "charges-1-severity": "felony",
        "charges-1-warrant_date": "",
        "contact_lines-0-label": "Robbery Division",
        "contact_lines-0-phone": "504-658-5300",
        "contact_lines-0-note": "",
        "save": "Save",
    }
    data.update(extra)
    return data


def create_through_form(client, agency_lines, **extra) -> str:
    token = csrf_token(client, "/staff/notices/new")
    response = client.post("/staff/notices/new", data=notice_form(token, agency_lines, **extra))
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def post_button(client, page_url: str, action_url: str, **data):
    return client.post(action_url, data={"csrf_token": csrf_token(client, page_url), **data})


def test_pio_writes_a_notice_with_charges_and_chosen_and_own_contact_lines(
    pio_client, session, agency_lines
):
    location = create_through_form(pio_client, agency_lines)
    notice = session.scalar(select(Notice))
    assert location == f"/staff/notices/{notice.id}"
    assert notice.status is NoticeStatus.DRAFT
    assert notice.alias_list == ["JQ", "Jordy"] and notice.age == 29
    assert [(c.citation, c.severity.value, c.warrant_date) for c in notice.charges] == [
        ("La. R.S. 14:64", "felony", date(2026, 11, 1))
    ]
    assert [(c.label, c.phone, c.note) for c in notice.contact_lines] == [
        ("Crimestoppers", "504-822-1111", "Anonymous."),
        ("Robbery Division", "504-658-5300", ""),
    ]
    page = pio_client.get(location).get_data(as_text=True)
    assert "CASE-SECRET-4411" in page and "Send for review" in page


def test_add_another_row_keeps_what_was_typed_and_saves_nothing(pio_client, session, agency_lines):
    token = csrf_token(pio_client, "/staff/notices/new")
    data = notice_form(token, agency_lines, add_charge="Add another charge row")
    del data["save"]
    response = pio_client.post("/staff/notices/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="charges-2-citation"' in page  # a third row
    assert 'value="Armed robbery"' in page and "Jordy" in page
    assert session.scalar(select(Notice)) is None


def test_a_half_filled_charge_row_is_explained_and_the_form_kept(pio_client, session, agency_lines):
    token = csrf_token(pio_client, "/staff/notices/new")
    data = notice_form(token, agency_lines, **{"charges-1-description": "Simple battery"})
    response = pio_client.post("/staff/notices/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Give the statute citation for this charge." in page
    assert 'href="#charges-1-citation"' in page
    assert 'value="Simple battery"' in page and 'value="Jordan Q. Example"' in page
    assert session.scalar(select(Notice)) is None


def test_two_people_publish_then_resolve_and_archive_through_the_screens(
    app, client, pio_client, make_staff, session, agency_lines
):
    url = create_through_form(pio_client, agency_lines)
    notice_id = int(url.rsplit("/", 1)[1])
    assert post_button(pio_client, url, f"{url}/submit").status_code == 303

    # The author's own approval is refused, with the reason shown.
    response = post_button(pio_client, url, f"{url}/approve")
    assert response.status_code == 303
    page = pio_client.get(url).get_data(as_text=True)
    assert "You cannot approve a notice you wrote or sent for review." in page
    session.rollback()  # a fresh read, not this session's old snapshot
    assert session.get(Notice, notice_id).status is NoticeStatus.IN_REVIEW

    supervisor = staff_client(app, make_staff, Role.SUPERVISOR, "sup-cat")
    assert post_button(supervisor, url, f"{url}/approve").status_code == 303
    session.rollback()
    notice = session.get(Notice, notice_id)
    assert notice.status is NoticeStatus.PUBLISHED
    public = client.get(f"/notices/{notice.slug}").get_data(as_text=True)
    assert "Armed robbery" in public and "Mid-City" in public and "6 ft 1 in" in public
    assert "CASE-SECRET-4411" not in public  # the case number is staff only
    assert "Wanted on a warrant for" in public

    # Resolving: choose, confirm what the public page will say, then a second person approves.
    resolution = {"resolution": "arrested", "resolved_on": date.today().isoformat()}
    response = post_button(supervisor, url, f"{url}/resolve", **resolution)
    assert response.status_code == 200
    assert "the public page will say" in response.get_data(as_text=True)
    response = post_button(supervisor, url, f"{url}/resolve", **resolution, confirmed="yes")
    assert response.status_code == 303 and response.location.endswith("#changes")
    assert "Send a tip online" in client.get(f"/notices/{notice.slug}").get_data(as_text=True)
    session.rollback()
    change_id = session.get(Notice, notice_id).pending_changes[0].id
    assert post_button(pio_client, url, f"{url}/changes/{change_id}/approve").status_code == 303
    public = client.get(f"/notices/{notice.slug}").get_data(as_text=True)
    banner = re.search(r'<div class="resolution-banner" role="status">(.*?)</div>', public, re.S)
    today = date.today()
    assert f"Arrested on {today:%B} {today.day}, {today.year}." in banner.group(1)
    assert "Send a tip online" not in public
    assert "Was wanted on a warrant for" in public
    assert "Everyone is presumed innocent" in public
    assert client.get(f"/notices/{notice.slug}/tip").status_code == 404

    assert post_button(pio_client, url, f"{url}/archive").status_code == 303
    assert client.get(f"/notices/{notice.slug}").status_code == 404
    session.rollback()  # a fresh read, not this session's old snapshot
    assert [e.action for e in audit.events_for(session, "notice", notice.slug)] == [
        "notice.created",
        "notice.submitted",
        "notice.published",
        "notice.resolution_requested",
        "notice.resolved",
        "notice.archived",
    ]
    # An archived notice cannot be edited, not even by going to the form.
    response = pio_client.get(f"{url}/edit")
    assert response.status_code == 303
    page = pio_client.get(url).get_data(as_text=True)
    assert "archived and can no longer be changed" in page


def test_return_to_draft_needs_a_reason(app, pio_client, make_staff, session, agency_lines):
    url = create_through_form(pio_client, agency_lines)
    post_button(pio_client, url, f"{url}/submit")
    supervisor = staff_client(app, make_staff, Role.SUPERVISOR, "sup-cat")
    response = post_button(supervisor, url, f"{url}/return", reason="")
    assert response.status_code == 400
    assert "Say why the notice goes back" in response.get_data(as_text=True)
    post_button(supervisor, url, f"{url}/return", reason="Wrong statute on charge 1.")
    notice = session.scalar(select(Notice))
    assert notice.status is NoticeStatus.DRAFT
    page = pio_client.get(url).get_data(as_text=True)
    assert "Wrong statute on charge 1." in page  # the author sees why, in the history


def test_editing_a_published_notice_waits_for_a_second_person(
    app, client, session, pio_client, make_staff, agency_lines
):
    url = create_through_form(pio_client, agency_lines)
    post_button(pio_client, url, f"{url}/submit")
    other = staff_client(app, make_staff, Role.PIO, "pio-bob")
    post_button(other, url, f"{url}/approve")
    token = csrf_token(pio_client, f"{url}/edit")
    page = pio_client.get(f"{url}/edit").get_data(as_text=True)
    assert 'value="Armed robbery"' in page and "waits for a second person" in page
    data = notice_form(
        token, agency_lines, caution="Armed. Call 911 at once.", subject_name="Someone Else"
    )
    response = pio_client.post(f"{url}/edit", data=data)
    assert response.status_code == 303 and response.location.endswith("#changes")

    def live() -> Notice:
        session.rollback()  # a fresh read of what the requests committed
        return session.scalar(select(Notice))

    notice = live()
    assert notice.caution == "Do not approach. Call 911." and notice.subject_name != "Someone Else"
    public = client.get(f"/notices/{notice.slug}").get_data(as_text=True)
    assert "Someone Else" not in public and "Do not approach" in public
    assert "Someone Else" not in client.get("/api/v1/notices").get_data(as_text=True)
    # The author is not offered the approval, and the service refuses it all the same.
    change_id = notice.pending_changes[0].id
    page = pio_client.get(url).get_data(as_text=True)
    assert "then approve" not in page and "you proposed this" in page.lower()
    preview = pio_client.get(f"{url}/preview?change={change_id}").get_data(as_text=True)
    assert "Someone Else" in preview and "Approve and publish" not in preview
    post_button(pio_client, url, f"{url}/changes/{change_id}/approve")
    page = pio_client.get(url).get_data(as_text=True)
    assert "You cannot approve a change you proposed" in page
    assert live().subject_name != "Someone Else"
    preview = other.get(f"{url}/preview?change={change_id}").get_data(as_text=True)
    # The approval comes after the content: the public text first, then the button.
    assert preview.index("Armed. Call 911 at once.") < preview.index("Approve and publish")
    assert post_button(other, url, f"{url}/changes/{change_id}/approve").status_code == 303
    notice = live()
    assert notice.caution == "Armed. Call 911 at once." and notice.subject_name == "Someone Else"
    assert [v.number for v in notice.versions] == [1, 2]
    assert notice.versions[0].snapshot["caution"] == "Do not approach. Call 911."
    assert "Someone Else" in client.get(f"/notices/{notice.slug}").get_data(as_text=True)


def _upload(client, url, raw: bytes, alt="Photo of Jordan Q. Example", filename="p.jpg"):
    """POST the photo form as a browser would. The multipart body is built here because the
    test client spools large bodies to a temporary file that it never closes."""
    fields = {
        "csrf_token": csrf_token(client, url),
        "alt_text": alt,
        "caption": "Booking photo, 2025",
    }
    boundary = "----tipline-test-boundary"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body += raw + f"\r\n--{boundary}--\r\n".encode()
    return client.post(
        f"{url}/photos", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def test_photo_with_gps_uploaded_by_the_pio_is_served_publicly_without_metadata(
    app, client, pio_client, make_staff, session, agency_lines
):
    supervisor = staff_client(app, make_staff, Role.SUPERVISOR, "sup")
    url = create_through_form(pio_client, agency_lines)
    raw = jpeg_with_gps((1600, 2000))
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(0x8825)  # GPS really is there
    response = _upload(pio_client, url, raw)
    assert response.status_code == 303, response.get_data(as_text=True)
    notice = session.scalar(select(Notice))
    photo = notice.photos[0]
    public_url = f"/notices/{notice.slug}/photos/{photo.id}/display"

    # Not public while the notice is a draft.
    assert client.get(public_url).status_code == 404
    post_button(pio_client, url, f"{url}/submit")
    post_button(supervisor, url, f"{url}/approve")

    page = client.get(f"/notices/{notice.slug}").get_data(as_text=True)
    assert f'src="{public_url}"' in page
    assert 'alt="Photo of Jordan Q. Example"' in page and "Booking photo, 2025" in page
    assert "No photo of" not in page
    gallery = client.get("/").get_data(as_text=True)
    assert f'src="/notices/{notice.slug}/photos/{photo.id}/thumb"' in gallery

    for variant, longest in (("display", 1200), ("thumb", 320)):
        served = client.get(f"/notices/{notice.slug}/photos/{photo.id}/{variant}")
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "image/jpeg"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in served.headers["Content-Security-Policy"]
        assert "Set-Cookie" not in served.headers
        image = Image.open(io.BytesIO(served.data))
        assert image.format == "JPEG" and max(image.size) == longest
        assert dict(image.getexif()) == {}
        assert image.getexif().get_ifd(0x8825) == {}
        assert not ({"exif", "xmp", "comment", "icc_profile"} & set(image.info))
        for secret in (b"SecretCam", b"Serial-12345", b"Secret St", b"TRAILING-SECRET"):
            assert secret not in served.data
    assert client.get(f"/notices/{notice.slug}/photos/{photo.id}/original").status_code == 404
    assert client.get(f"/notices/other-slug/photos/{photo.id}/display").status_code == 404


def test_a_file_that_is_not_an_image_is_refused_plainly_and_the_form_kept(
    pio_client, session, agency_lines
):
    url = create_through_form(pio_client, agency_lines)
    response = _upload(
        pio_client, url, b"MZ\x90\x00 not an image", alt="Side view", filename="x.jpg"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The photo must be a JPEG, PNG or WebP image. This file is not one we can open." in page
    assert 'value="Side view"' in page and 'value="Booking photo, 2025"' in page
    assert "Traceback" not in page
    assert session.scalar(select(Notice)).photos == []


def test_a_photo_sent_with_a_missing_description_asks_to_be_chosen_again(
    pio_client, session, agency_lines
):
    url = create_through_form(pio_client, agency_lines)
    response = _upload(pio_client, url, jpeg_with_gps((400, 500)), alt="")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Describe the photo in a few words." in page
    assert "Your photo was not kept: please choose it again." in page
    assert 'value="Booking photo, 2025"' in page
    assert session.scalar(select(Notice)).photos == []


def test_photos_stop_being_served_once_details_are_removed(app, client, session, published_notice):
    photo = photos.add_photo(session, published_notice, jpeg_with_gps(), "Photo", "test-pio")
    session.commit()
    url = f"/notices/{published_notice.slug}/photos/{photo.id}/thumb"
    assert client.get(url).status_code == 404  # waiting for a second person
    approve_pending_edit(session, published_notice)
    session.commit()
    url = f"/notices/{published_notice.slug}/photos/{photo.id}/thumb"
    assert client.get(url).status_code == 200
    resolve_notice(session, published_notice, Resolution.CLEARED)
    session.commit()
    assert client.get(url).status_code == 200  # resolved: still public until retention
    workflow.remove_details(session, published_notice, published_notice.resolved_at)
    session.commit()
    assert client.get(url).status_code == 404
    page = client.get(f"/notices/{published_notice.slug}").get_data(as_text=True)
    assert "Warrant cleared on" in page and "Malfeasance in office" in page
    assert "No photo of Alexis Jane Doe has been published" in page


def test_a_pio_cannot_read_tips(app, session, make_staff, published_notice):
    tip, _ = tips.submit_tip(
        session, tips.TipReport("Seen by the ferry terminal"), receipts.receipt_key("k" * 40)
    )
    session.commit()
    pio = make_staff(Role.PIO, "pio-ann")
    client = app.test_client()
    sign_in(client, "pio-ann")
    for url in ["/staff/queue", f"/staff/tips/{tip.public_ref}"]:
        response = client.get(url)
        assert response.status_code == 403
        assert "ferry terminal" not in response.get_data(as_text=True)
    with pytest.raises(triage.NotAllowed):
        triage.view_tip(session, pio, tip.public_ref)
    assert "ferry terminal" not in client.get("/staff/notices").get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "url", "expected"),
    [
        (Role.DETECTIVE, "/staff/notices", 403),
        (Role.ADMIN, "/staff/notices", 403),
        (Role.CALL_TAKER, "/staff/notices/new", 403),
        (Role.SUPERVISOR, "/staff/notices/new", 403),  # supervisors review, PIOs write
        (Role.SUPERVISOR, "/staff/notices", 200),
        (Role.PIO, "/staff/notices/new", 200),
    ],
)
def test_who_may_open_the_notice_screens(app, make_staff, role, url, expected):
    client = staff_client(app, make_staff, role, f"{role.value}-x")
    assert client.get(url).status_code == expected


def test_the_public_is_sent_to_sign_in(client, published_notice):
    response = client.get("/staff/notices")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/staff/login")


def test_notice_list_groups_by_status(pio_client, session, published_notice):
    draft = notices.create_notice(session, notices.NoticeDraft(subject_name="Draft Person"), "x")
    session.commit()
    page = pio_client.get("/staff/notices").get_data(as_text=True)
    assert page.index("Draft Person") < page.index("Alexis Jane Doe")
    assert f'href="/staff/notices/{draft.id}"' in page
    assert 'id="status-in_review"' in page and 'id="status-archived"' in page


def test_a_photo_over_the_size_limit_is_refused_plainly(app, pio_client, session, agency_lines):
    app.config["NOTICE_PHOTO_MAX_BYTES"] = 1024 * 1024
    url = create_through_form(pio_client, agency_lines)
    noise = Image.frombytes("RGB", (700, 700), random.Random(3).randbytes(700 * 700 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert 1024 * 1024 < len(out.getvalue()) < 2 * 1024 * 1024  # over the photo limit only
    response = _upload(pio_client, url, out.getvalue(), filename="big.png")
    assert response.status_code == 400
    assert "The photo must be a JPEG, PNG or WebP image under 1 MB." in response.get_data(
        as_text=True
    )


def test_other_staff_forms_keep_the_small_upload_limit(pio_client, session, agency_lines):
    url = create_through_form(pio_client, agency_lines)
    token = csrf_token(pio_client, url)
    response = pio_client.post(
        f"{url}/edit", data={"csrf_token": token, "subject_name": "x" * (2 * 1024 * 1024)}
    )
    assert response.status_code == 413


def test_a_date_or_age_that_cannot_be_read_says_what_to_type(pio_client, session, agency_lines):
    token = csrf_token(pio_client, "/staff/notices/new")
    data = notice_form(
        token,
        agency_lines,
        age="about 30",
        max_reward="five grand",
        **{"charges-0-warrant_date": "1/11"},
    )
    response = pio_client.post("/staff/notices/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter the date as year-month-day, for example 2026-03-14." in page
    # Each field says what it wants, wherever its errors are listed (not the age's twice).
    age = page.count("Enter the age as a whole number of years, for example 34.")
    reward = page.count("Enter the maximum reward as a whole amount, for example 1000.")
    assert age == reward >= 1
    assert session.scalar(select(Notice)) is None


def test_agency_lines_are_offered_checked_and_can_be_left_out_on_edit(
    pio_client, session, agency_lines
):
    page = pio_client.get("/staff/notices/new").get_data(as_text=True)
    for line in agency_lines:
        assert re.search(rf'<input checked id="default_lines-\d" [^>]*value="{line.id}"', page)
    url = create_through_form(pio_client, agency_lines)
    edit = pio_client.get(f"{url}/edit").get_data(as_text=True)
    assert re.search(rf'<input checked [^>]*value="{agency_lines[1].id}"', edit)
    assert not re.search(rf'<input checked [^>]*value="{agency_lines[0].id}"', edit)
    data = notice_form(csrf_token(pio_client, f"{url}/edit"), agency_lines)
    del data["default_lines"]  # nothing ticked
    assert pio_client.post(f"{url}/edit", data=data).status_code == 303
    session.rollback()
    notice = session.scalar(select(Notice))
    assert [line.label for line in notice.contact_lines] == ["Robbery Division"]
    event = audit.events_for(session, "notice", notice.slug)[-1]
    assert event.details["fields"] == ["contact_lines"]


def test_only_a_signed_in_pio_may_send_a_large_upload(app, session, make_staff, published_notice):
    big = b"x" * (2 * 1024 * 1024)
    url = f"/staff/notices/{published_notice.id}/photos"
    anonymous = app.test_client()
    assert anonymous.post(url, data=big, content_type="application/octet-stream").status_code == 413
    supervisor = staff_client(app, make_staff, Role.SUPERVISOR, "sup")
    assert (
        supervisor.post(url, data=big, content_type="application/octet-stream").status_code == 413
    )


def test_a_number_without_its_area_code_is_refused_and_an_extension_kept(
    pio_client, session, agency_lines
):
    token = csrf_token(pio_client, "/staff/notices/new")
    data = notice_form(token, agency_lines, **{"contact_lines-0-phone": "658-5300"})
    response = pio_client.post("/staff/notices/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Add the area code" in page and 'value="658-5300"' in page
    data["contact_lines-0-phone"] = "(504) 658-5300 x 12"
    assert pio_client.post("/staff/notices/new", data=data).status_code == 303
    line = session.scalar(select(Notice)).contact_lines[-1]
    assert line.phone == "504-658-5300 ext. 12"
    assert line.tel_uri == "tel:+1-504-658-5300;ext=12"


def test_sending_an_incomplete_draft_lists_each_problem_once(pio_client, agency_lines):
    blank = {f"charges-0-{f}": "" for f in ("citation", "description", "warrant_date")}
    url = create_through_form(pio_client, agency_lines, **blank)
    response = post_button(pio_client, url, f"{url}/submit")
    assert response.location.endswith("#actions-heading")
    page = pio_client.get(url).get_data(as_text=True)
    assert page.count("Add at least one charge") == 1


@pytest.mark.parametrize("field", ["subject_name", "caution", "charges-0-description"])
def test_a_nul_in_a_pio_field_is_refused_plainly_and_stores_nothing(
    pio_client, session, agency_lines, field
):
    """PostgreSQL cannot store a NUL; no person types one. Refused before any view runs."""
    token = csrf_token(pio_client, "/staff/notices/new")
    data = notice_form(token, agency_lines, **{field: "Jordan\x00Example"})
    response = pio_client.post("/staff/notices/new", data=data)
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)
    assert session.scalar(select(Notice)) is None
