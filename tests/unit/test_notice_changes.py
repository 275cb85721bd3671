"""Two-person changes to public notices: resolution, its correction, and live edits.

The public keeps seeing the live version until a second person (a PIO or supervisor who had
no hand in the change) approves; nobody approves their own change, by any path."""

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select

from tipline import audit
from tipline.auth.models import Role
from tipline.notices import changes, photos, workflow
from tipline.notices import services as notices
from tipline.notices.models import (
    ChangeKind,
    ChangeState,
    NoticePhoto,
    NoticeStatus,
    Resolution,
)

from .test_media import jpeg_with_gps
from .test_notice_workflow import FULL, actions, published


def test_resolution_waits_for_a_second_person_and_self_approval_is_refused(
    session, pio, other_pio, supervisor
):
    notice = published(session, pio, other_pio)
    change = changes.request_resolution(
        session, notice, supervisor, Resolution.ARRESTED, date.today()
    )
    assert notice.status is NoticeStatus.PUBLISHED and notice.resolution is None
    assert change.resolution_text == f"Arrested on {date.today().isoformat()}"
    with pytest.raises(workflow.SelfApproval, match="cannot approve a change you proposed"):
        changes.approve_change(session, notice, change.id, supervisor)
    assert notice.status is NoticeStatus.PUBLISHED
    assert "notice.resolved" not in actions(session, notice)
    changes.approve_change(session, notice, change.id, pio)
    assert notice.status is NoticeStatus.RESOLVED
    assert change.state is ChangeState.APPROVED and change.decided_by == "pio-ann"
    assert actions(session, notice)[-2:] == ["notice.resolution_requested", "notice.resolved"]


def test_a_second_resolution_request_while_one_waits_is_refused(session, pio, other_pio):
    notice = published(session, pio, other_pio)
    changes.request_resolution(session, notice, pio, Resolution.ARRESTED, date.today())
    with pytest.raises(notices.NoticeRefused, match="already waiting"):
        changes.request_resolution(session, notice, other_pio, Resolution.LOCATED, date.today())


@pytest.mark.parametrize("role", [Role.DETECTIVE, Role.ADMIN, Role.CALL_TAKER])
def test_only_pios_and_supervisors_request_or_approve_a_resolution(
    session, make_staff, pio, other_pio, role
):
    outsider = make_staff(role)
    notice = published(session, pio, other_pio)
    with pytest.raises(notices.NoticeRefused, match="may not resolve"):
        changes.request_resolution(session, notice, outsider, Resolution.ARRESTED, date.today())
    change = changes.request_resolution(session, notice, pio, Resolution.ARRESTED, date.today())
    with pytest.raises(notices.NoticeRefused, match="may not approve"):
        changes.approve_change(session, notice, change.id, outsider)


def test_a_resolution_withdrawn_is_not_applied(session, pio, other_pio):
    notice = published(session, pio, other_pio)
    change = changes.request_resolution(session, notice, pio, Resolution.ARRESTED, date.today())
    changes.withdraw_change(session, notice, change.id, pio)
    with pytest.raises(notices.NoticeRefused, match="no longer waiting"):
        changes.approve_change(session, notice, change.id, other_pio)
    assert notice.status is NoticeStatus.PUBLISHED
    assert actions(session, notice)[-1] == "notice.change_withdrawn"


def test_a_resolution_made_in_error_is_corrected_by_two_people_back_to_published(
    session, pio, other_pio, supervisor
):
    notice = published(session, pio, other_pio)
    change = changes.request_resolution(session, notice, pio, Resolution.ARRESTED, date.today())
    changes.approve_change(session, notice, change.id, other_pio)
    with pytest.raises(notices.NoticeRefused, match="Say what was wrong"):
        changes.request_correction(session, notice, supervisor, " ")
    fix = changes.request_correction(session, notice, supervisor, "Wrong person arrested.")
    assert notice.status is NoticeStatus.RESOLVED
    with pytest.raises(workflow.SelfApproval):
        changes.approve_change(session, notice, fix.id, supervisor)
    changes.approve_change(session, notice, fix.id, pio)
    assert notice.status is NoticeStatus.PUBLISHED
    assert notice.resolution is None and notice.resolved_at is None
    assert notice.correction_note.startswith(f"This notice said “Arrested on {date.today()}”")
    assert notice.corrected_at is not None
    assert notices.published_notices(session) == [notice]
    event = audit.events_for(session, "notice", notice.slug)[-1]
    assert (event.action, event.actor_id) == ("notice.resolution_corrected", pio.id)
    assert event.details["reason"] == "Wrong person arrested."
    assert event.details["proposed_by"] == supervisor.username


def test_only_a_resolved_notice_with_its_details_can_be_corrected(session, pio, other_pio):
    notice = published(session, pio, other_pio)
    with pytest.raises(notices.NoticeRefused, match="Only a resolved notice"):
        changes.request_correction(session, notice, pio, "Oops")


def test_an_edit_of_a_public_notice_waits_and_the_live_version_stays(session, pio, other_pio):
    notice = published(session, pio, other_pio)
    new_lines = [notices.ContactDraft("My cousin", "504-555-0100")]
    notices.update_notice(
        session,
        notice,
        replace(FULL, subject_name="Someone Else", contact_lines=new_lines),
        pio,
    )
    assert notice.subject_name == FULL.subject_name
    assert [c.phone for c in notice.contact_lines] == [c.phone for c in FULL.contact_lines]
    change = notice.pending(ChangeKind.EDIT)
    assert change.fields == ["contact_lines", "subject_name"]
    assert notices.pending_draft(notice).subject_name == "Someone Else"
    with pytest.raises(workflow.SelfApproval):
        changes.approve_change(session, notice, change.id, pio)
    changes.approve_change(session, notice, change.id, other_pio)
    assert notice.subject_name == "Someone Else"
    assert [c.phone for c in notice.contact_lines] == ["504-555-0100"]
    assert notice.pending_changes == []


def test_everyone_who_shaped_an_edit_is_refused_as_its_approver(
    session, pio, other_pio, supervisor
):
    notice = published(session, pio, other_pio)
    notices.update_notice(session, notice, replace(FULL, reward_text="$1"), pio)
    notices.update_notice(session, notice, replace(FULL, reward_text="$5,000"), other_pio)
    change = notice.pending(ChangeKind.EDIT)
    assert change.proposer_names == ["pio-ann", "pio-bob"]
    for person in (pio, other_pio):
        with pytest.raises(workflow.SelfApproval):
            changes.approve_change(session, notice, change.id, person)
    changes.approve_change(session, notice, change.id, supervisor)
    assert notice.reward_text == "$5,000"


def test_a_typo_fix_in_the_details_goes_live_at_once_and_is_audited_as_such(
    session, pio, other_pio
):
    notice = published(session, pio, other_pio, replace(FULL, description="Last seen in Gentily."))
    notices.update_notice(session, notice, replace(FULL, description="Last seen in Gentilly."), pio)
    assert notice.description == "Last seen in Gentilly." and notice.pending_changes == []
    event = audit.events_for(session, "notice", notice.slug)[-1]
    assert event.action == "notice.edited" and event.details["typo_fix"] is True
    # A rewrite of the details is not a typo: it waits.
    notices.update_notice(
        session, notice, replace(FULL, description="Has left the state for Texas."), pio
    )
    assert notice.description == "Last seen in Gentilly."
    assert notice.pending(ChangeKind.EDIT).fields == ["description"]


def test_photos_added_to_a_public_notice_stay_hidden_until_approved(session, pio, other_pio):
    notice = published(session, pio, other_pio)
    photo = photos.add_photo(session, notice, jpeg_with_gps(), "Side view", pio)
    assert photo.approved is False and notice.public_photos == []
    assert photos.photo_bytes(session, notice.id, photo.id, "thumb", public_only=True) is None
    change = notice.pending(ChangeKind.EDIT)
    assert change.fields == ["photos"] and change.proposal["add_photos"] == [photo.id]
    changes.approve_change(session, notice, change.id, other_pio)
    assert photo.approved and notice.public_photos == [photo]
    assert photos.photo_bytes(session, notice.id, photo.id, "thumb", public_only=True)


def test_removing_a_live_photo_waits_and_withdrawing_drops_photos_never_approved(
    session, pio, other_pio
):
    notice = published(session, pio, other_pio)
    live = photos.add_photo(session, notice, jpeg_with_gps(), "Front", pio)
    changes.approve_change(session, notice, notice.pending(ChangeKind.EDIT).id, other_pio)
    photos.remove_photo(session, notice, live.id, pio)
    assert notice.public_photos == [live]  # still public until approved
    waiting = photos.add_photo(session, notice, jpeg_with_gps(), "Side", pio)
    change = notice.pending(ChangeKind.EDIT)
    assert change.proposal == {**change.proposal, "remove_photos": [live.id]}
    changes.withdraw_change(session, notice, change.id, pio)
    session.flush()
    assert notice.public_photos == [live]
    ids = set(session.scalars(select(NoticePhoto.id)))
    assert live.id in ids and waiting.id not in ids


def test_approving_an_edit_of_a_notice_archived_meanwhile_is_refused(session, pio, other_pio):
    notice = published(session, pio, other_pio)
    notices.update_notice(session, notice, replace(FULL, reward_text="$9"), pio)
    edit = notice.pending(ChangeKind.EDIT)
    resolve = changes.request_resolution(session, notice, pio, Resolution.CLEARED, date.today())
    changes.approve_change(session, notice, resolve.id, other_pio)
    workflow.archive_notice(session, notice, other_pio)
    with pytest.raises(notices.NoticeRefused, match="archived"):
        changes.approve_change(session, notice, edit.id, other_pio)
    assert notice.reward_text == FULL.reward_text


def test_the_count_awaiting_approval_covers_reviews_and_pending_changes(session, pio, other_pio):
    assert changes.awaiting_approval(session) == 0
    first = published(session, pio, other_pio)
    notices.create_notice(session, FULL, pio)
    second = notices.create_notice(session, FULL, pio)
    workflow.submit_for_review(session, second, pio)
    assert changes.awaiting_approval(session) == 1
    changes.request_resolution(session, first, pio, Resolution.ARRESTED, date.today())
    session.flush()
    assert changes.awaiting_approval(session) == 2
    assert session.scalar(select(func.count()).select_from(NoticePhoto)) == 0
