"""Pages for staff under /staff/: home, the queue views and search, "Next tip", a tip.

Sign-in is in ``web/account.py``; actions on a tip (claim, status, notes...) are in
``web/triage.py``."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from tipline import db
from tipline.auth.forms import ButtonForm
from tipline.auth.models import Role
from tipline.db import utcnow
from tipline.tips.models import TipStatus
from tipline.triage import queue as queue_views
from tipline.triage import search
from tipline.triage import services as triage
from tipline.triage.forms import QueueForm
from tipline.triage.queue import QueueFilters, Sort, View
from tipline.web import drafts, tip_page
from tipline.web.policy import signed_in_staff

bp = Blueprint("staff", __name__, url_prefix="/staff")


#: Where each role's work is: the page "Staff" (and signing in) leads to.
ROLE_HOMES = {
    Role.DETECTIVE: "staff.queue",
    Role.SUPERVISOR: "staff.queue",
    Role.PIO: "pio.index",
    Role.CALL_TAKER: "calltaker.new_call",
    Role.ADMIN: "admin.staff_list",
    Role.COORDINATOR: "rewards.index",
    Role.PAYOUT_DESK: "rewards.payout_check",
}


@bp.get("/")
def home() -> Response:
    """Each role starts where its work is."""
    return redirect(url_for(ROLE_HOMES[signed_in_staff().role]), code=303)


def _queue_filters(form: QueueForm) -> QueueFilters:
    notice_id = int(form.notice.data) if (form.notice.data or "").isdigit() else None
    return QueueFilters(
        notice_id=notice_id,
        status=TipStatus(form.status.data) if form.status.data else None,
        received_from=form.received_from.data,
        received_to=form.received_to.data,
        urgent_only=bool(form.urgent.data),
    )


@bp.get("/queue")
def queue() -> tuple[str, int]:
    """A queue view, or search results when there is search text; filters apply to both."""
    user = signed_in_staff()
    session = db.session()
    form = QueueForm(request.args)
    notices = queue_views.notices_for_filter(session, user)
    form.notice.choices = [SelectChoice("", "Any notice")] + [
        SelectChoice(str(n.id), n.subject_name) for n in notices
    ]
    valid = form.validate()
    filters = _queue_filters(form) if valid else QueueFilters()
    view = View(form.view.data) if form.view.data in set(View) else View.NEW
    sort = Sort(form.sort.data) if form.sort.data in set(Sort) else Sort.PRIORITY
    limit = current_app.config["QUEUE_PAGE_SIZE"]
    page = results = None
    if valid and (form.q.data or "").strip():
        raw_after = form.after.data or ""
        after = int(raw_after) if raw_after.isdigit() and int(raw_after) < 2**63 else None
        results = search.search_tips(session, user, form.q.data, filters, after, limit)
    else:
        after_cursor = form.after.data if valid else None
        page = queue_views.queue_page(session, user, view, filters, sort, after_cursor, limit)
    # The page shows tip text (snippets): who read which tips is audited, like opening one.
    if results is not None:
        refs = [hit.tip.public_ref for hit in results.hits]
        digest = search.query_hash(current_app.config["SECRET_KEY"], form.q.data or "")
        search.record_listing(session, user, refs, view.value, digest)
    elif page is not None:
        search.record_listing(session, user, [t.public_ref for t in page.tips], view.value)
    session.commit()
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    html = render_template(
        "staff/queue.html",
        form=form,
        page=page,
        results=results,
        view=view,
        args=args,
        now=utcnow(),
    )
    return html, 200 if valid else 400


@bp.post("/queue/next")
def next_tip() -> Response:
    """Claim the most urgent unclaimed tip and open it."""
    user = signed_in_staff()
    session = db.session()
    if not ButtonForm().validate_on_submit():
        abort(400)
    # End the read transaction the sign-in check opened: on SQLite the claim must start a
    # fresh one (see claim_next_tip). Nothing has been written, so nothing is committed.
    session.commit()
    tip = triage.claim_next_tip(session, user)
    session.commit()
    if tip is None:
        flash("There are no unclaimed tips right now.", "info")
        return redirect(url_for("staff.queue", view="mine"), code=303)
    flash("This tip is now yours.", "info")
    return redirect(url_for("staff.tip", ref=tip.public_ref), code=303)


@bp.get("/tips/<ref>")
def tip(ref: str) -> str:
    user = signed_in_staff()
    session = db.session()
    found = triage.view_tip(session, user, ref)
    if found is None:
        abort(404)
    context = tip_page.context(session, user, found, current_app.config, drafts.kept_forms())
    session.commit()  # the view is audited
    return render_template("staff/tip.html", tip=found, now=utcnow(), **context)
