"""Units are records: administrators keep the list, PIOs give notices a unit, accounts get one
from the list, an unused unit is warned about, and a unit-limited detective is told so."""

from __future__ import annotations

from sqlalchemy import select, text

from tipline import audit, db, migrations
from tipline.auth.models import Role, StaffUser, Unit
from tipline.notices.models import Notice

from ..conftest import csrf_token, publish_new_notice, sign_in, unit_named


def test_admin_adds_a_unit_once_and_it_is_audited(admin_client, session):
    token = csrf_token(admin_client, "/staff/admin/units")
    added = admin_client.post(
        "/staff/admin/units", data={"csrf_token": token, "name": "  Fugitive  Squad "}
    )
    assert added.status_code == 303
    page = admin_client.get("/staff/admin/units").get_data(as_text=True)
    assert "Fugitive Squad" in page and "none yet" in page
    again = admin_client.post(
        "/staff/admin/units", data={"csrf_token": token, "name": "fugitive squad"}
    )
    assert again.status_code == 400
    assert "There is already a unit named" in again.get_data(as_text=True)
    unit = session.scalar(select(Unit))
    assert unit.name == "Fugitive Squad"
    assert [e.action for e in audit.events_for(session, "unit", unit.id)] == ["unit.created"]


def test_units_page_is_for_admins_only(app, make_staff):
    client = app.test_client()
    sign_in(client, make_staff(Role.SUPERVISOR, "sup").username)
    assert client.get("/staff/admin/units").status_code == 403


def test_staff_form_offers_the_unit_list_and_warns_when_no_notice_carries_it(admin_client, session):
    homicide = unit_named(session, "Homicide")
    session.commit()
    form = admin_client.get("/staff/admin/staff/new").get_data(as_text=True)
    assert f'<option value="{homicide.id}">Homicide</option>' in form
    token = csrf_token(admin_client, "/staff/admin/staff/new")
    created = admin_client.post(
        "/staff/admin/staff/new",
        data={"csrf_token": token, "username": "det", "role": "detective", "unit": homicide.id},
    )
    shown = created.get_data(as_text=True)  # the page that shows the first password
    assert "No notice carries the unit Homicide yet" in shown
    # A unit that is not on the list is refused with a sentence, nothing created.
    refused = admin_client.post(
        "/staff/admin/staff/new",
        data={"csrf_token": token, "username": "det2", "role": "detective", "unit": "999"},
    )
    assert refused.status_code == 400
    assert "Choose a unit from the list" in refused.get_data(as_text=True)
    assert session.scalar(select(StaffUser).where(StaffUser.username == "det2")) is None


def test_changing_a_unit_warns_only_when_no_notice_carries_it(admin_client, session, make_staff):
    det = make_staff(Role.DETECTIVE, "det")
    carried = unit_named(session, "Fugitive")
    empty = unit_named(session, "Cold Case")
    publish_new_notice(session).unit = carried
    session.commit()
    url = f"/staff/admin/staff/{det.id}"
    token = csrf_token(admin_client, url)
    response = admin_client.post(
        f"{url}/role",
        data={"csrf_token": token, "role": "detective", "unit": carried.id},
        follow_redirects=True,
    )
    assert "No notice carries" not in response.get_data(as_text=True)
    response = admin_client.post(
        f"{url}/role",
        data={"csrf_token": token, "role": "detective", "unit": empty.id},
        follow_redirects=True,
    )
    assert "No notice carries the unit Cold Case yet" in response.get_data(as_text=True)
    changed = audit.events_for(session, "staff_user", det.id)[-1]
    assert changed.details["before"]["unit"] == "Fugitive"
    assert changed.details["after"]["unit"] == "Cold Case"


def test_pio_gives_a_notice_a_unit_from_the_list(app, session, make_staff):
    fugitive = unit_named(session, "Fugitive")
    session.commit()
    make_staff(Role.PIO, "pio")
    client = app.test_client()
    sign_in(client, "pio")
    form = client.get("/staff/notices/new").get_data(as_text=True)
    assert 'name="unit_id"' in form and ">Fugitive</option>" in form
    token = csrf_token(client, "/staff/notices/new")
    response = client.post(
        "/staff/notices/new",
        data={"csrf_token": token, "subject_name": "Jo Example", "unit_id": str(fugitive.id)},
    )
    assert response.status_code == 303
    notice = session.scalar(select(Notice).where(Notice.subject_name == "Jo Example"))
    assert notice.unit.name == "Fugitive"
    edit = client.get(f"/staff/notices/{notice.id}/edit").get_data(as_text=True)
    assert f'<option selected value="{fugitive.id}">Fugitive</option>' in edit


def test_a_unit_limited_detective_is_told_which_tips_they_see(app, make_staff):
    client = app.test_client()
    sign_in(client, make_staff(Role.DETECTIVE, "det", unit="Homicide").username)
    page = client.get("/staff/queue").get_data(as_text=True)
    assert "You see tips for unit Homicide" in page
    other = app.test_client()
    sign_in(other, make_staff(Role.DETECTIVE, "any-det").username)
    assert "You see tips for unit" not in other.get("/staff/queue").get_data(as_text=True)


def test_revision_0801_turns_free_text_units_into_records(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    try:
        migrations.upgrade(engine, "0605")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO staff_user (username, password_hash, role, active, created_at, "
                    "unit) VALUES ('a', 'x', 'detective', 1, '2026-12-01', ' Homicide '), "
                    "('b', 'x', 'detective', 1, '2026-12-01', NULL)"
                )
            )
        migrations.upgrade(engine)
        with engine.connect() as conn:
            units = conn.execute(text("SELECT id, name FROM unit")).all()
            assert [name for _, name in units] == ["Homicide"]
            rows = dict(conn.execute(text("SELECT username, unit_id FROM staff_user")).all())
            assert rows == {"a": units[0][0], "b": None}
    finally:
        engine.dispose()
