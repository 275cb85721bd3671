"""The framework's own limit, for comparison: a minimal Flask app with a route that returns a
short string, an endpoint that inserts one row and commits, and the same insert behind a
Flask-WTF form (a page with a CSRF token in the session, then a POST that checks it), on the
same database (engine settings from ``tipline.db.make_engine``: WAL and synchronous=FULL on
SQLite; not the lock PostgreSQL writers take for the audit chain)."""

from __future__ import annotations

import os

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
    metadata.create_all(engine)
    engine.dispose()  # gunicorn preloads: no connection may cross the fork

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

    @app.get("/healthz")
    def healthz() -> str:
        return "ok\n"

    return app
