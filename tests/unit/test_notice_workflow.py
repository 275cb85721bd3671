"""The notice life cycle, tested through the services: each step, each refusal, the audit
rows they write, the versions kept on edit, and the retention of personal details."""

import io
from dataclasses import replace
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from tipline import audit
from tipline.auth.models import Role
from tipline.db import utcnow
from tipline.demo import DEMO_NOTICE
from tipline.media import ImageRejected
from tipline.notices import changes, photos, workflow
from tipline.notices import services as notices
from tipline.notices.models import NoticePhoto, NoticeStatus, NoticeVersion, Resolution

from ..conftest import approve_pending_edit, resolve_notice
from .test_media import jpeg_with_gps

FULL = replace(
    DEMO_NOTICE,
    aliases=["A. J. Doe", "AJ"],
    date_of_birth=date(1985, 4, 2),
    case_number="2026-CASE-77",
)


def actions(session, notice) -> list[str]:
    return [e.action for e in audit.events_for(session, "notice", notice.slug)]


def in_review(session, author, draft=FULL):
    notice = notices.create_notice(session, draft, author)
    workflow.submit_for_review(session, notice, author)
    return notice


def published(session, author, approver, draft=FULL):
    notice = in_review(session, author, draft)
    workflow.publish_notice(session, notice, approver)
    return notice


def test_draft_is_submitted_then_approved_by_a_second_pio_and_each_step_is_audited(
    session, pio, other_pio
):
    notice = notices.create_notice(session, FULL, pio)
    assert notice.status is NoticeStatus.DRAFT and notice.created_by_id == pio.id
    workflow.submit_for_review(session, notice, pio)
    assert notice.status is NoticeStatus.IN_REVIEW
    workflow.publish_notice(session, notice, other_pio)
    assert notice.status is NoticeStatus.PUBLISHED and notice.published_at is not None

    events = audit.events_for(session, "notice", notice.slug)
    assert [(e.action, e.actor_id) for e in events] == [
        ("notice.created", pio.id),
        ("notice.submitted", pio.id),
        ("notice.published", other_pio.id),
    ]
    assert all(e.occurred_at is not None for e in events)
    assert events[-1].details == {"version": 1}
    assert notices.published_notices(session) == [notice]


def test_a_supervisor_may_approve(session, pio, supervisor):
    notice = published(session, pio, supervisor)
    assert notice.status is NoticeStatus.PUBLISHED


def test_the_author_can_never_approve_their_own_notice(session, pio):
    notice = in_review(session, pio)
    with pytest.raises(workflow.SelfApproval, match="cannot approve a notice you wrote"):
        workflow.publish_notice(session, notice, pio)
    assert notice.status is NoticeStatus.IN_REVIEW
    assert "notice.published" not in actions(session, notice)


def test_whoever_sent_it_for_review_cannot_approve_it_either(session, pio, other_pio, supervisor):
    notice = notices.create_notice(session, FULL, pio)
    workflow.submit_for_review(session, notice, other_pio)
    for person in (pio, other_pio):
        with pytest.raises(workflow.SelfApproval):
            workflow.publish_notice(session, notice, person)
    workflow.publish_notice(session, notice, supervisor)
    assert notice.status is NoticeStatus.PUBLISHED


def test_self_approval_is_refused_for_named_actors_too(session):
    notice = in_review(session, "cli-pio")
    with pytest.raises(workflow.SelfApproval):
        workflow.publish_notice(session, notice, "cli-pio")


@pytest.mark.parametrize("role", [Role.DETECTIVE, Role.ADMIN, Role.CALL_TAKER])
def test_only_pios_and_supervisors_approve_and_only_pios_write(session, make_staff, pio, role):
    outsider = make_staff(role)
    notice = in_review(session, pio)
    with pytest.raises(notices.NoticeRefused, match="may not approve"):
        workflow.publish_notice(session, notice, outsider)
    with pytest.raises(notices.NoticeRefused, match="may not write"):
        notices.create_notice(session, FULL, outsider)


def test_a_supervisor_reviews_but_does_not_write(session, supervisor):
    with pytest.raises(notices.NoticeRefused, match="may not write"):
        notices.create_notice(session, FULL, supervisor)


@pytest.mark.parametrize(
    ("missing", "message"),
    [("charges", "at least one charge"), ("contact_lines", "at least one contact line")],
)
def test_publishing_is_refused_without_a_charge_or_a_contact_line(
    session, pio, other_pio, missing, message
):
    notice = in_review(session, pio)
    # Sending for review checks too; the approval must refuse on its own all the same
    # (say the rows were removed by hand in the database).
    setattr(notice, missing, [])
    session.flush()
    with pytest.raises(notices.NoticeRefused, match=message):
        workflow.publish_notice(session, notice, other_pio)
    assert notice.status is NoticeStatus.IN_REVIEW
    assert "notice.published" not in actions(session, notice)


def test_a_notice_in_review_is_frozen_until_returned_to_draft(session, pio, supervisor):
    notice = in_review(session, pio)
    with pytest.raises(notices.NoticeRefused, match="waiting for review"):
        notices.update_notice(session, notice, replace(FULL, caution="changed"), pio)
    with pytest.raises(notices.NoticeRefused, match="waiting for review"):
        photos.add_photo(session, notice, jpeg_with_gps(), "A photo", pio)
    workflow.return_to_draft(session, notice, pio, "Fix a typo before review.")
    assert notices.update_notice(session, notice, replace(FULL, caution="changed"), pio)


def test_a_notice_without_charges_cannot_even_be_sent_for_review(session, pio):
    notice = notices.create_notice(session, replace(FULL, charges=[]), pio)
    with pytest.raises(notices.NoticeRefused, match="at least one charge"):
        workflow.submit_for_review(session, notice, pio)
    assert notice.status is NoticeStatus.DRAFT


def test_returning_to_draft_needs_a_reason_and_records_it(session, pio, supervisor):
    notice = in_review(session, pio)
    with pytest.raises(notices.NoticeRefused, match="Say why"):
        workflow.return_to_draft(session, notice, supervisor, "  ")
    workflow.return_to_draft(session, notice, supervisor, "Check the citation for count 2.")
    assert notice.status is NoticeStatus.DRAFT
    event = audit.events_for(session, "notice", notice.slug)[-1]
    assert event.action == "notice.returned" and event.actor_id == supervisor.id
    assert event.details == {"reason": "Check the citation for count 2."}
    # Back in draft it can be sent again.
    workflow.submit_for_review(session, notice, pio)
    assert notice.status is NoticeStatus.IN_REVIEW


def test_steps_out_of_order_are_refused(session, pio, other_pio):
    draft = notices.create_notice(session, FULL, pio)
    with pytest.raises(notices.NoticeRefused, match="Only a notice that is in review"):
        workflow.publish_notice(session, draft, other_pio)
    with pytest.raises(notices.NoticeRefused, match="Only a notice that is published"):
        changes.request_resolution(session, draft, pio, Resolution.ARRESTED, date.today())
    with pytest.raises(notices.NoticeRefused, match="Only a notice that is resolved"):
        workflow.archive_notice(session, draft, pio)


def test_resolving_records_what_happened_and_when_and_changes_updated_at(
    session, pio, other_pio, supervisor
):
    notice = published(session, pio, other_pio)
    before = notice.updated_at
    now = utcnow()
    with pytest.raises(notices.NoticeRefused, match="cannot be in the future"):
        changes.request_resolution(
            session, notice, other_pio, Resolution.ARRESTED, now.date() + timedelta(days=2)
        )
    day = now.date() - timedelta(days=1)
    change = changes.request_resolution(
        session, notice, other_pio, Resolution.ARRESTED, day, now=now
    )
    assert notice.status is NoticeStatus.PUBLISHED  # nothing public yet
    changes.approve_change(session, notice, change.id, supervisor, now=now)
    assert notice.status is NoticeStatus.RESOLVED
    assert notice.resolution_text == f"Arrested on {day.isoformat()}"
    assert notice.resolved_at == now and notice.updated_at > before
    event = audit.events_for(session, "notice", notice.slug)[-1]
    assert event.action == "notice.resolved" and event.actor_id == supervisor.id
    assert event.details == {
        "resolution": "arrested",
        "date": day.isoformat(),
        "proposed_by": "pio-bob",
    }
    # Resolved notices stay public (with the banner) until archived.
    assert notices.public_notice(session, notice.slug) is notice


def test_archived_notices_are_off_the_site_and_cannot_be_edited(session, pio, other_pio):
    notice = published(session, pio, other_pio)
    resolve_notice(session, notice, Resolution.SURRENDERED)
    workflow.archive_notice(session, notice, pio)
    assert notice.status is NoticeStatus.ARCHIVED and notice.archived_at is not None
    assert actions(session, notice)[-1] == "notice.archived"
    assert notices.public_notice(session, notice.slug) is None
    with pytest.raises(notices.NoticeRefused, match="archived and can no longer be changed"):
        notices.update_notice(session, notice, replace(FULL, caution="changed"), pio)
    with pytest.raises(notices.NoticeRefused, match="archived"):
        photos.add_photo(session, notice, jpeg_with_gps(), "A photo", pio)
    assert notice.caution == FULL.caution
    assert "notice.edited" not in actions(session, notice)


def test_edits_to_a_published_notice_are_versioned_and_audited(session, pio, other_pio):
    notice = published(session, pio, other_pio)
    first = notice.updated_at
    changed = notices.update_notice(
        session, notice, replace(FULL, caution="Considered dangerous. Call 911."), pio
    )
    assert changed == ["caution"]
    assert notice.caution == FULL.caution  # the live version stays until approved
    assert len(notice.versions) == 1
    approve_pending_edit(session, notice, other_pio)
    versions = session.scalars(
        select(NoticeVersion).where(NoticeVersion.notice_id == notice.id).order_by("number")
    ).all()
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].snapshot["caution"] == FULL.caution
    assert versions[0].created_by == other_pio.username  # version 1 is the approved text
    assert versions[1].snapshot["caution"] == "Considered dangerous. Call 911."
    assert versions[1].created_by_id == other_pio.id and versions[1].created_at is not None
    assert versions[1].snapshot["charges"][0]["citation"] == "La. R.S. 14:134"
    assert notice.updated_at > first
    proposed, event = audit.events_for(session, "notice", notice.slug)[-2:]
    assert (proposed.action, proposed.actor_id) == ("notice.change_proposed", pio.id)
    assert (event.action, event.actor_id) == ("notice.edited", other_pio.id)
    assert event.details == {
        "fields": ["caution"],
        "status": "published",
        "version": 2,
        "proposed_by": "pio-ann",
    }


def test_an_edit_that_changes_nothing_writes_nothing(session, pio, other_pio):
    notice = published(session, pio, other_pio)
    assert notices.update_notice(session, notice, FULL, pio) == []
    assert actions(session, notice)[-1] == "notice.published"
    assert len(notice.versions) == 1


def test_draft_edits_are_audited_without_a_version(session, pio):
    notice = notices.create_notice(session, FULL, pio)
    notices.update_notice(session, notice, replace(FULL, reward_text="Up to $2,500"), pio)
    event = audit.events_for(session, "notice", notice.slug)[-1]
    assert event.action == "notice.edited"
    assert event.details == {"fields": ["reward_text"], "status": "draft", "version": None}
    assert notice.versions == []


def test_photo_is_stored_as_clean_display_and_thumb_variants(session, pio):
    notice = notices.create_notice(session, FULL, pio)
    photo = photos.add_photo(
        session, notice, jpeg_with_gps((2400, 1600)), "Head and shoulders", pio, caption="2024"
    )
    session.commit()
    stored = session.get(NoticePhoto, photo.id)
    assert (stored.display_width, stored.display_height) == (1200, 800)
    assert (stored.thumb_width, stored.thumb_height) == (320, 213)
    for data in (stored.display_data, stored.thumb_data):
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG" and dict(image.getexif()) == {}
        assert b"SecretCam" not in data
    assert stored.mime == "image/jpeg" and stored.alt_text == "Head and shoulders"
    assert actions(session, notice)[-1] == "notice.edited"


def test_a_file_that_is_not_an_image_is_refused_with_a_plain_message(session, pio):
    notice = notices.create_notice(session, FULL, pio)
    with pytest.raises(ImageRejected, match="The photo must be a JPEG, PNG or WebP image"):
        photos.add_photo(session, notice, b"%PDF-1.7 not a photo", "A photo", pio)
    with pytest.raises(notices.NoticeRefused, match="Describe the photo"):
        photos.add_photo(session, notice, jpeg_with_gps(), " ", pio)
    assert session.scalar(select(func.count()).select_from(NoticePhoto)) == 0


def _resolved_with_photo(session, pio, approver, resolved_at):
    notice = published(session, pio, approver)
    photos.add_photo(session, notice, jpeg_with_gps(), "Photo of the subject", pio)
    approve_pending_edit(session, notice)
    resolve_notice(session, notice, Resolution.LOCATED, now=resolved_at)
    return notice


def test_retention_removes_photos_and_personal_details_after_the_configured_days(
    session, pio, other_pio
):
    resolved_at = utcnow() - timedelta(days=40)
    notice = _resolved_with_photo(session, pio, other_pio, resolved_at)
    still_wanted = published(session, pio, other_pio, replace(FULL, subject_name="Still Wanted"))
    session.commit()

    too_early = resolved_at + timedelta(days=30) - timedelta(seconds=1)
    assert workflow.remove_expired_details(session, too_early) == []
    assert notice.photos and notice.aliases

    due = resolved_at + timedelta(days=30)
    assert workflow.remove_expired_details(session, due) == [notice]
    session.commit()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(NoticePhoto)) == 0
    for name in ("aliases", "description", "sex", "height", "hair", "scars_marks"):
        assert getattr(notice, name) == "", name
    assert notice.last_known_area == ""
    assert notice.age is None and notice.date_of_birth is None
    # The minimal record stays: the name, the charges and the resolution.
    assert notice.subject_name == "Alexis Jane Doe"
    assert [c.citation for c in notice.charges] == ["La. R.S. 14:134", "La. R.S. 14:338"]
    assert notice.resolution_text == f"Located on {resolved_at.date().isoformat()}"
    assert notice.details_removed_at == due and notice.updated_at == due
    # Kept versions lose the details too.
    for version in notice.versions:
        assert version.snapshot["aliases"] == [] and version.snapshot["photos"] == []
        assert version.snapshot["date_of_birth"] is None
        assert version.snapshot["last_known_area"] == ""
    event = audit.events_for(session, "notice", notice.slug)[-1]
    assert (event.action, event.actor_label) == ("notice.details_removed", "system")
    # Published notices keep everything; a second run finds nothing left to do.
    assert still_wanted.aliases == "A. J. Doe\nAJ"
    assert workflow.remove_expired_details(session, due + timedelta(days=365)) == []
    with pytest.raises(notices.NoticeRefused, match="details were removed"):
        notices.update_notice(session, notice, FULL, pio)


def test_retention_period_is_a_parameter_and_covers_archived_notices(session, pio, other_pio):
    resolved_at = utcnow() - timedelta(days=8)
    notice = _resolved_with_photo(session, pio, other_pio, resolved_at)
    workflow.archive_notice(session, notice, pio)
    assert workflow.remove_expired_details(session, utcnow(), retention_days=10) == []
    assert workflow.remove_expired_details(session, utcnow(), retention_days=7) == [notice]
    assert notice.photos == [] and notice.status is NoticeStatus.ARCHIVED


def test_purge_command_uses_the_configured_retention(app, runner, session, pio, other_pio):
    notice = _resolved_with_photo(session, pio, other_pio, utcnow() - timedelta(days=3))
    session.commit()
    app.config["NOTICE_DETAILS_RETENTION_DAYS"] = 5
    result = runner.invoke(args=["notices", "purge-expired"])
    assert result.exit_code == 0, result.output
    assert "from 0 notice(s)" in result.output
    app.config["NOTICE_DETAILS_RETENTION_DAYS"] = 2
    result = runner.invoke(args=["notices", "purge-expired"])
    assert "from 1 notice(s) resolved more than 2 days ago" in result.output
    assert notice.slug in result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(NoticePhoto)) == 0
    assert actions(session, notice)[-1] == "notice.details_removed"
