"""Every staff route that takes a tip, a tipster's photo or a notice goes through the one
checked lookup (``tipline.triage.access``): a viewer who may not see the object gets 404 on
GET and POST alike, the same answer as for an object that does not exist.

The test walks ``app.url_map``, so a new rule is covered the day it is added: a rule with a
reference argument this file does not know fails the test until it is classified, and a rule
that loads the object without the lookup answers something other than 404 and fails too.
"""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from werkzeug.routing import Rule

from tipline import audit
from tipline.auth.models import Role
from tipline.demo import DEMO_NOTICE
from tipline.notices import photos
from tipline.notices import services as notices
from tipline.tips import receipts
from tipline.tips import services as tips
from tipline.tips.attachments import attachments_for
from tipline.triage import access
from tipline.triage import services as triage
from tipline.web import policy

from ..conftest import csrf_token, publish_new_notice, sign_in, unit_named
from ..unit.test_media import jpeg_with_gps

#: Route arguments naming an object whose visibility ``tipline.triage.access`` decides.
OBJECT_ARGS = {"ref", "photo_ref", "slug", "notice_id", "photo_id"}
#: Route arguments that name something else, already limited by the role table to roles that
#: see every tip (supervisors: escalations, reviews), none (admins: accounts) or every reward
#: (coordinators: reward decisions), or that only qualify an object above (a tag of the tip,
#: an image variant, a pending change of the notice, looked up among that notice's changes).
OTHER_ARGS = {"tag", "variant", "escalation_id", "review_id", "user_id", "reward_id", "change_id"}


def _staff_rules(app: Flask) -> list[Rule]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.rule.startswith("/staff/")),
        key=lambda r: r.rule,
    )


def test_every_staff_route_argument_is_classified(app):
    unknown = {
        (rule.rule, arg)
        for rule in _staff_rules(app)
        for arg in rule.arguments
        if arg not in OBJECT_ARGS | OTHER_ARGS
    }
    assert unknown == set(), (
        "a staff route takes an argument this test does not know: if it names a tip, a photo "
        "or a notice, load it with tipline.triage.access and add it to OBJECT_ARGS"
    )


@pytest.fixture
def world(app, session, make_staff):
    """Two units' notices with a tip each (one with a photo), a draft notice with a photo,
    a detective of the Homicide unit and a supervisor."""
    key = receipts.receipt_key(app.secret_key)
    made = {}
    for unit in ["Homicide", "Fugitive"]:
        notice = publish_new_notice(session, subject_name=f"{unit} Subject")
        notice.unit = unit_named(session, unit)
        photos = [jpeg_with_gps()] if unit == "Fugitive" else []
        tip, _ = tips.submit_tip(
            session,
            tips.TipReport(f"{unit} tip narrative"),
            key,
            notice,
            photos=photos,
            data_key=app.config["DATA_KEY"],
        )
        made[unit] = (notice, tip)
    draft = notices.create_notice(
        session, dataclasses.replace(DEMO_NOTICE, subject_name="Draft Subject"), "test-pio"
    )
    draft.unit = unit_named(session, "Homicide")
    session.flush()
    draft_photo = _notice_photo(session, draft)
    session.commit()
    fugitive_notice, fugitive_tip = made["Fugitive"]
    photo = attachments_for(session, fugitive_tip)[0]
    return {
        "hidden": {
            "ref": fugitive_tip.public_ref,
            "photo_ref": photo.public_ref,
            "slug": fugitive_notice.slug,
            "tag": "vehicle",
            "variant": "thumb",
        },
        "draft": {
            "slug": draft.slug,
            "notice_id": draft.id,
            "photo_id": draft_photo.id,
            "variant": "thumb",
            "change_id": 1,
        },
        "detective": make_staff(Role.DETECTIVE, "homicide-det", unit="Homicide"),
        "supervisor": make_staff(Role.SUPERVISOR, "sup"),
        "pio": make_staff(Role.PIO, "pio"),
    }


def _notice_photo(session, notice):
    return photos.add_photo(session, notice, jpeg_with_gps(), "Photo", "test-pio")


def _requests(app, values, wanted):
    """(method, url) for every staff rule whose object arguments are all in ``wanted``."""
    for rule in _staff_rules(app):
        args = set(rule.arguments)
        if not args & OBJECT_ARGS or not args & OBJECT_ARGS <= wanted:
            continue
        url = rule.build({a: values[a] for a in rule.arguments}, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def _send(client, method, url, token):
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": token})


def _token(client):
    return csrf_token(client, "/staff/password")


def test_a_viewer_who_may_not_see_a_tip_photo_or_notice_gets_404_on_every_route(
    app, session, world
):
    """The Homicide detective asks for the Fugitive unit's tip, its photo and its notice,
    and for a draft notice, through every route that takes them."""
    client = app.test_client()
    sign_in(client, world["detective"].username)
    token = _token(client)
    seen = []
    tip_routes = list(_requests(app, world["hidden"], {"ref", "photo_ref", "slug"}))
    assert len(tip_routes) >= 15  # the walk found the tip routes
    for endpoint, method, url in tip_routes:
        response = _send(client, method, url, token)
        # A route the role table closes to detectives (reassignment is for supervisors, who
        # see every tip) refuses by role, the same for every reference: that tells nothing.
        expected = 404 if Role.DETECTIVE in policy.ROUTE_ROLES[endpoint] else 403
        assert response.status_code == expected, (endpoint, method, url, response.status_code)
        assert "Fugitive tip narrative" not in response.get_data(as_text=True)
        seen.append(expected)
    assert seen.count(404) >= 15
    draft_slug = world["draft"]["slug"]
    for endpoint, method, url in _requests(app, world["draft"], {"slug"}):
        response = _send(client, method, url, token)
        assert response.status_code == 404, (endpoint, method, url, draft_slug)
    # Nothing was done to the hidden tip: no audit event by the detective names it.
    hidden_events = audit.events_for(session, "tip", world["hidden"]["ref"])
    assert [e.action for e in hidden_events if e.actor_id == world["detective"].id] == []

    # The control: the same requests by a supervisor, who sees every tip, are not 404, so the
    # 404s above are the lookup's answer and not a broken URL.
    supervisor = app.test_client()
    sign_in(supervisor, world["supervisor"].username)
    token = _token(supervisor)
    for endpoint, method, url in tip_routes:
        response = _send(supervisor, method, url, token)
        assert response.status_code != 404, (endpoint, method, url)


def test_draft_notice_routes_go_through_the_checked_lookup(app, world, monkeypatch):
    """Every PIO route taking a notice loads it with ``visible_notice``. PIOs and supervisors
    see every draft, so the role table alone decides who reaches these routes; to prove each
    route asks the lookup, the lookup is narrowed to supervisors and the PIO must then get 404
    everywhere (and does not, with the real rule)."""
    draft_routes = list(_requests(app, world["draft"], {"notice_id", "photo_id"}))
    assert len(draft_routes) >= 10
    client = app.test_client()
    sign_in(client, world["pio"].username)
    token = csrf_token(client, "/staff/notices/new")
    for endpoint, method, url in draft_routes:
        if endpoint in {"pio.submit", "pio.approve", "pio.archive", "pio.remove_photo"}:
            continue  # the control must not change the draft the next requests ask for
        if endpoint.startswith("pio.preview"):
            continue  # a draft not yet sent for review has nothing to preview: 404 by design
        response = _send(client, method, url, token)
        assert response.status_code != 404, (endpoint, method, url)
    monkeypatch.setattr(access, "NOTICE_READERS", frozenset({Role.SUPERVISOR}))
    for endpoint, method, url in draft_routes:
        response = _send(client, method, url, token)
        assert response.status_code == 404, (endpoint, method, url, response.status_code)


def test_claiming_a_tip_one_may_not_see_says_not_found(app, session, world):
    tip = triage.find_tip(session, world["supervisor"], world["hidden"]["ref"])
    detective = session.merge(world["detective"])
    with pytest.raises(access.TipNotFound, match="no tip"):
        triage.claim_tip(session, detective, tip)
    assert triage.find_tip(session, detective, tip.public_ref) is None


def test_reassigning_to_someone_who_may_not_see_the_tip_is_refused(app, session, world):
    supervisor = session.merge(world["supervisor"])
    detective = session.merge(world["detective"])
    tip = triage.find_tip(session, supervisor, world["hidden"]["ref"])
    with pytest.raises(triage.TransitionRefused, match="homicide-det cannot see this tip"):
        triage.reassign_tip(session, supervisor, tip, detective, "Workload")
    session.rollback()
    assert session.get(type(tip), tip.id).claimed_by_id is None


def test_reassignment_refusal_is_shown_on_the_tip_page(app, world):
    client = app.test_client()
    sign_in(client, world["supervisor"].username)
    ref = world["hidden"]["ref"]
    token = csrf_token(client, f"/staff/tips/{ref}")
    response = client.post(
        f"/staff/tips/{ref}/reassign",
        data={
            "csrf_token": token,
            "reassign-to": str(world["detective"].id),
            "reassign-reason": "Workload",
        },
        follow_redirects=True,
    )
    assert "homicide-det cannot see this tip" in response.get_data(as_text=True)


def test_linking_or_marking_duplicate_of_a_tip_one_may_not_see_says_not_found(app, session, world):
    client = app.test_client()
    sign_in(client, world["detective"].username)
    general, _ = tips.submit_tip(
        session, tips.TipReport("General tip"), receipts.receipt_key(app.secret_key)
    )
    session.commit()
    ref = general.public_ref
    token = csrf_token(client, f"/staff/tips/{ref}")
    client.post(f"/staff/tips/{ref}/claim", data={"csrf_token": token})
    hidden = world["hidden"]["ref"]
    linked = client.post(
        f"/staff/tips/{ref}/links",
        data={"csrf_token": token, "other": hidden, "kind": "related"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "There is no tip with that reference." in linked
    marked = client.post(
        f"/staff/tips/{ref}/status",
        data={"csrf_token": token, "status": "duplicate", "reason": "same", "duplicate_of": hidden},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "There is no tip with that reference." in marked
    assert triage.links_for(session, session.merge(world["supervisor"]), general) == []
