"""Labels find their fields: on pages with several forms, same-named fields get distinct ids.

The browser tests check this too (they are slow); this is the fast version for the staff tip
page, where the status, reassign, note and question forms share field names.
"""

from __future__ import annotations

import re
from collections import Counter

from tipline.auth.models import Role

from .test_triage_web import post, submit


def _visible_ids(html: str) -> Counter:
    tags = re.findall(r"<(?:input|textarea|select|p|div|ul|section|h[1-6])\b[^>]*>", html)
    return Counter(
        m.group(1)
        for tag in tags
        if 'type="hidden"' not in tag and (m := re.search(r'\sid="([^"]+)"', tag))
    )


def test_every_label_on_the_supervisors_tip_page_points_at_one_field(
    app, client, session, make_staff
):
    from ..conftest import sign_in

    make_staff(Role.DETECTIVE, "det2")  # someone to reassign to: the reassign form is shown
    boss = make_staff(Role.SUPERVISOR, "boss")
    sign_in(client, boss.username)
    tip = submit(app, session, "Seen at the levee")
    page = f"/staff/tips/{tip.public_ref}"
    post(client, f"{page}/claim", page=page)
    html = client.get(page).get_data(as_text=True)
    assert "Reassign" in html and "Question for the tipster" in html

    ids = _visible_ids(html)
    assert [i for i, n in ids.items() if n > 1] == []
    targets = re.findall(r'<label for="([^"]+)"', html)
    assert {"reason", "reassign-reason", "note-body", "question-body"} <= set(targets)
    for target in targets:
        assert ids[target] == 1, f"label for={target!r} points at {ids[target]} elements"
