"""After resolution: the public "Resolved" list with each outcome in the reader's language,
and a tip typed while its notice was resolved kept and offered as a general tip."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from tipline.notices.models import Resolution
from tipline.tips.models import Tip

from ..conftest import publish_new_notice, resolve_notice


def test_resolved_page_lists_resolved_notices_with_their_outcome(client, session):
    wanted = publish_new_notice(session, subject_name="Still Wanted")
    found = publish_new_notice(session, subject_name="Found Person")
    resolve_notice(session, found, Resolution.LOCATED)
    session.commit()
    page = client.get("/resolved").get_data(as_text=True)
    assert "Found Person" in page and "Still Wanted" not in page
    assert "Located on" in page
    assert "/resolved" in client.get("/").get_data(as_text=True)
    spanish = client.get("/resolved?lang=es").get_data(as_text=True)
    assert "Resueltos" in spanish and "Located" not in spanish
    assert wanted.slug not in page


def test_resolved_page_says_so_when_nothing_is_resolved(client):
    response = client.get("/resolved")
    assert response.status_code == 200
    assert "No notice has been resolved yet." in response.get_data(as_text=True)


def test_a_tip_typed_while_the_notice_was_resolved_is_kept_as_a_general_tip(
    client, session, published_notice
):
    url = f"/notices/{published_notice.slug}/tip"
    page = client.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form_token = re.search(r'name="form_token" type="hidden" value="([^"]+)"', page).group(1)
    resolve_notice(session, published_notice)
    session.commit()
    typed = "She was at the bus stop on Canal & Broad at 9 tonight"
    response = client.post(
        url, data={"csrf_token": token, "form_token": form_token, "narrative": typed}
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "This notice was resolved while you were writing" in page
    assert html.escape(typed) in page
    assert 'action="/tip"' in page
    assert response.headers["Cache-Control"] == "no-store"
    assert session.scalar(select(func.count()).select_from(Tip)) == 0
    # Sending it again from that page makes a general tip.
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    again = re.search(r'name="form_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/tip", data={"csrf_token": token, "form_token": again, "narrative": typed}
    )
    assert response.status_code == 200
    session.rollback()  # a fresh read of what the request committed
    tip = session.scalar(select(Tip))
    assert tip.narrative == typed and tip.notice_id is None


def test_a_tip_for_an_unknown_notice_is_still_not_found(client):
    page = client.get("/tip").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/notices/nobody/tip", data={"csrf_token": token, "narrative": "x"})
    assert response.status_code == 404
