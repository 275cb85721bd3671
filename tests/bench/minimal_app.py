"""The framework's own limit, for comparison: a minimal Flask app with a route that returns a
short string, an endpoint that inserts one row and commits, and the same insert behind a
Flask-WTF form (a page with a CSRF token in the session, then a POST that checks it), on the
same database (engine settings from ``tipline.db.make_engine``: WAL and synchronous=FULL on
SQLite; not the lock PostgreSQL writers take for the audit chain).

One more form, ``/form-tip``, is that smallest form doing a tip's own durable work in place of
its one insert: the tips domain's ``submit_tip`` (receipt code, sealing, the form token, the
audit event and its chain and tree, the chain lock) on Tipline's own database and sessions,
then COMMIT. What a tip costs above it is Tipline's web layer: the tip form and receipt
pages, rate limits, languages, security headers, the request hooks."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from flask import Flask, render_template_string, request
from flask_wtf import FlaskForm
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert
from wtforms import TextAreaField
from wtforms.validators import DataRequired

from tipline.db import make_engine

metadata = MetaData()
bench_row = Table(
    "bench_row",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("narrative", Text, nullable=False),
)


FORM_PAGE = """<!doctype html><title>Tip</title>
<form method="post">{{ form.csrf_token }}{{ form.narrative }}<button>Send</button></form>"""


class NarrativeForm(FlaskForm):
    narrative = TextAreaField(validators=[DataRequired()])


def create_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = os.environ["TIPLINE_SECRET_KEY"]
    # Tipline's engine settings, without its audit chain's lock (it has no chain to guard).
    engine = make_engine(os.environ["TIPLINE_DATABASE_URL"], writers_lock=False)
    # Each gunicorn worker builds the app: one at a time, or one's CREATE TABLE can meet
    # another's first write on SQLite ("database is locked" at start-up).
    with open(Path(os.environ["TIPLINE_INSTANCE_PATH"]) / "minimal-app.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        metadata.create_all(engine)
        tip_work = _tip_work()
    engine.dispose()  # no connection of start-up is kept

    @app.get("/hello")
    def hello() -> str:
        return "Hello, World!"

    @app.post("/insert")
    def insert_row() -> str:
        with engine.begin() as conn:
            conn.execute(insert(bench_row).values(narrative=request.form["narrative"]))
        return "saved"

    @app.route("/form", methods=["GET", "POST"])
    def form() -> str:
        """The floor of any CSRF-protected form: one page, then one checked insert."""
        form = NarrativeForm()
        if form.validate_on_submit():
            with engine.begin() as conn:
                conn.execute(insert(bench_row).values(narrative=form.narrative.data))
            return "saved"
        return render_template_string(FORM_PAGE, form=form)

    @app.route("/form-tip", methods=["GET", "POST"])
    def form_tip() -> str:
        """The same form, with a tip's durable work (``submit_tip`` and COMMIT) behind it."""
        form = NarrativeForm()
        if form.validate_on_submit():
            tip_work(form.narrative.data, form.csrf_token.data)
            return "saved"
        return render_template_string(FORM_PAGE, form=form)

    @app.get("/healthz")
    def healthz() -> str:
        return "ok\n"

    return app


def _tip_work() -> Callable[[str, str], None]:
    """``submit_tip`` on Tipline's database with its configuration and session hooks, for the
    demo notice: Tipline's app is built for its sessionmakers and keys, and never routes."""
    from tipline import create_app as create_tipline
    from tipline.demo import DEMO_SLUG
    from tipline.tips import receipts, services
    from tipline.triage import intake

    tipline = create_tipline()
    config = tipline.config
    maker = tipline.extensions["tipline.write_sessionmaker"]
    key = receipts.receipt_key(receipts.receipt_secret(config))
    with maker() as session:
        target = intake.open_for_tips(session, DEMO_SLUG)
    assert target is not None, "the bench database holds the demo notice"
    tipline.extensions["tipline.engine"].dispose()  # no connection of start-up is kept

    def work(narrative: str, token: str) -> None:
        with maker() as session:
            intake.followers_known(session, target)
            services.submit_tip(
                session,
                services.TipReport(narrative),
                key,
                notice=target,
                data_key=config["DATA_KEY"],
                form_token=token[-40:],
                look_up_form_token=False,
            )
            session.commit()

    return work
