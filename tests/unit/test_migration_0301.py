"""Revision 0301 (the full notice record) upgrades a database that already has notices."""

from sqlalchemy import text

from tipline import db, migrations


def test_existing_notices_and_charges_survive_the_upgrade(empty_database_url):
    engine = db.make_engine(empty_database_url)
    try:
        migrations.upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO notice (slug, subject_name, aliases, description, caution, "
                    "reward_text, status, created_at, updated_at) VALUES ('old', 'Old Notice', "
                    "'', '', '', '', 'published', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO charge (notice_id, position, citation, description, severity) "
                    "VALUES (1, 0, 'La. R.S. 14:134', 'Malfeasance in office', 'felony')"
                )
            )
        migrations.upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT subject_name, status, sex, case_number, created_by FROM notice")
            ).one()
            assert tuple(row) == ("Old Notice", "published", "", "", "")
            assert conn.execute(text("SELECT warrant_date FROM charge")).scalar() is None
    finally:
        engine.dispose()
