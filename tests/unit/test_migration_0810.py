"""Revision 0810 (translated contact-line notes) upgrades a database that already has contact
lines, and its downgrade keeps them."""

import json

from sqlalchemy import inspect, text

from tipline import db, migrations


def test_existing_lines_have_no_translations_and_survive_up_and_down(empty_database_url):
    engine = db.make_engine(empty_database_url)
    try:
        migrations.upgrade(engine, "0809")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO contact_line (position, label, phone, note) "
                    "VALUES (0, 'Crimestoppers', '504-822-1111', 'Anonymous.')"
                )
            )
        migrations.upgrade(engine, "0810")
        with engine.connect() as conn:
            row = conn.execute(text("SELECT note, note_translations FROM contact_line")).one()
        stored = row[1] if isinstance(row[1], dict) else json.loads(row[1])
        assert (row[0], stored) == ("Anonymous.", {})

        migrations.downgrade(engine, "0809")
        columns = {c["name"] for c in inspect(engine).get_columns("contact_line")}
        assert "note_translations" not in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT note FROM contact_line")).scalar() == "Anonymous."
    finally:
        engine.dispose()
