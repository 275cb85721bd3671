"""Each tip records the language of the form it was written in, and staff see it beside the
dialog (questions go back to the tipster in that language)."""

from __future__ import annotations

from sqlalchemy import select

from tipline.auth.models import Role
from tipline.tips.models import Tip

from .conftest import staff_client
from .tipster import send_tip


def test_a_tip_written_in_spanish_says_so_beside_the_dialog(app, client, session, make_staff):
    response, code = send_tip(client, url="/tip?lang=es", narrative="La vi en la parada")
    assert response.status_code == 200 and code
    tip = session.scalar(select(Tip))
    assert tip.language == "es"

    staff = staff_client(app, make_staff, Role.DETECTIVE, "det-1")
    page = staff.get(f"/staff/tips/{tip.public_ref}").get_data(as_text=True)
    dialog = page.split('id="dialog"', 1)[1]
    assert "<dt>Written in</dt>" in dialog and ">Spanish (the tipster reads" in dialog


def test_a_tip_in_english_records_english(client, session):
    send_tip(client)
    assert session.scalar(select(Tip.language)) == "en"
