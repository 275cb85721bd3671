"""Revision 0809 (sealed authenticator secrets, confirmed follows) on a database with staff
and follows: clear secrets are kept for the application to seal, old follows wait 14 days
for confirmation; downgrading drops unconfirmed follows and makes sealed-only accounts
enrol again."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tipline import create_app, migrations
from tipline.auth import services as auth
from tipline.auth.models import Role

from ..conftest import PASSWORD, app_config, publish_new_notice


def _as_utc(value):
    if isinstance(value, str):  # SQLite hands back text through a plain connection
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_0809_keeps_clear_secrets_and_gives_old_follows_time(empty_database_url, tmp_path):
    app = create_app(app_config(empty_database_url, tmp_path / "instance"))
    engine = app.extensions["tipline.engine"]
    try:
        migrations.upgrade(engine)
        with app.extensions["tipline.sessionmaker"]() as s:
            notice = publish_new_notice(s)
            for name in ("old-det", "new-det"):
                auth.create_user(s, name, PASSWORD, Role.DETECTIVE, "test")
            s.commit()
            notice_id = notice.id
        migrations.downgrade(engine, "0808")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE staff_user SET totp_secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', "
                    "totp_enrolled_at = CURRENT_TIMESTAMP WHERE username = 'old-det'"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO notice_follow (staff_id, notice_id, email, created_at) "
                    "SELECT id, :n, 'old@example.org', CURRENT_TIMESTAMP FROM staff_user "
                    "WHERE username = 'old-det'"
                ),
                {"n": notice_id},
            )
        before = datetime.now(UTC)
        migrations.upgrade(engine)
        with engine.connect() as conn:
            clear, sealed = conn.execute(
                text("SELECT totp_secret, totp_sealed FROM staff_user WHERE username = 'old-det'")
            ).one()
            assert (clear, sealed) == ("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", None)
            confirmed, token, until = conn.execute(
                text(
                    "SELECT confirmed_at, confirm_token_hash, confirm_expires_at FROM notice_follow"
                )
            ).one()
            assert confirmed is None and token is None
            assert (
                before + timedelta(days=13)
                < _as_utc(until)
                <= datetime.now(UTC) + timedelta(days=14)
            )
        # A sealed-only account and the unconfirmed follow, going down again.
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE staff_user SET totp_sealed = :b, totp_enrolled_at = CURRENT_TIMESTAMP,"
                    " totp_last_step = 5 WHERE username = 'new-det'"
                ),
                {"b": b"\x01sealed"},
            )
        migrations.downgrade(engine, "0808")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM notice_follow")).scalar() == 0
            rows = dict(
                conn.execute(text("SELECT username, totp_enrolled_at FROM staff_user")).all()
            )
            assert rows["new-det"] is None and rows["old-det"] is not None
    finally:
        engine.dispose()
