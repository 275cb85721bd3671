import pytest

from tipline import create_app
from tipline.config import SecretKeyError

from ..conftest import SECRET


def _app(tmp_path, **overrides):
    return create_app({"INSTANCE_PATH": str(tmp_path), **overrides})


def test_config_precedence_defaults_then_instance_file_then_env_then_mapping(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text(
        f"SECRET_KEY = {SECRET!r}\nAGENCY_NAME = 'From instance'\nEMERGENCY_NUMBER = '112'\n"
        "MIN_PASSWORD_LENGTH = 14\n"
    )
    monkeypatch.setenv("TIPLINE_EMERGENCY_NUMBER", "999")
    monkeypatch.setenv("TIPLINE_MIN_PASSWORD_LENGTH", "16")
    app = _app(tmp_path, MIN_PASSWORD_LENGTH=20)
    assert app.config["WTF_CSRF_TIME_LIMIT"] == 4 * 3600  # default survives
    assert app.config["AGENCY_NAME"] == "From instance"  # instance file beats default
    assert app.config["EMERGENCY_NUMBER"] == "999"  # environment beats instance file
    assert app.config["MIN_PASSWORD_LENGTH"] == 20  # mapping beats environment


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    app = _app(tmp_path, SECRET_KEY=SECRET)
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'tipline.sqlite3'}"


def test_database_url_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TIPLINE_DATABASE_URL", "postgresql+psycopg://u@db.invalid/tipline")
    app = _app(tmp_path, SECRET_KEY=SECRET)
    assert app.config["DATABASE_URL"] == "postgresql+psycopg://u@db.invalid/tipline"


@pytest.mark.parametrize("key", [None, "", "change-me", "short"])
def test_production_refuses_to_start_without_a_real_secret_key(tmp_path, key):
    with pytest.raises(SecretKeyError, match="TIPLINE_SECRET_KEY"):
        _app(tmp_path, SECRET_KEY=key)


def test_development_makes_a_secret_key_once_and_keeps_it(tmp_path):
    first = _app(tmp_path, ENV="development")
    second = _app(tmp_path, ENV="development")
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first.config["SESSION_COOKIE_SECURE"] is False


def test_production_cookies_are_secure_and_http_only(tmp_path):
    app = _app(tmp_path, SECRET_KEY=SECRET)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_an_unknown_tipline_variable_stops_the_start_and_names_the_close_setting(
    tmp_path, monkeypatch
):
    from tipline.config import ConfigError

    monkeypatch.setenv("TIPLINE_SMTP_HOTS", "mail.example.org")
    with pytest.raises(ConfigError, match=r"TIPLINE_SMTP_HOTS is not a setting.*TIPLINE_SMTP_HOST"):
        _app(tmp_path, SECRET_KEY=SECRET)


def test_text_settings_stay_text_and_the_others_are_typed_json(tmp_path, monkeypatch):
    from tipline.config import ConfigError

    monkeypatch.setenv("TIPLINE_EMERGENCY_NUMBER", "911")
    monkeypatch.setenv("TIPLINE_SMTP_USERNAME", "1234")
    monkeypatch.setenv("TIPLINE_SUPERVISOR_EMAILS", '["duty@example.org"]')
    monkeypatch.setenv("TIPLINE_NO_ACTION_REVIEW_SAMPLE", "1")
    monkeypatch.setenv("TIPLINE_SMTP_STARTTLS", "true")
    app = _app(tmp_path, SECRET_KEY=SECRET)
    assert app.config["EMERGENCY_NUMBER"] == "911"
    assert app.config["SMTP_USERNAME"] == "1234"
    assert app.config["SUPERVISOR_EMAILS"] == ["duty@example.org"]
    assert app.config["NO_ACTION_REVIEW_SAMPLE"] == 1
    assert app.config["SMTP_STARTTLS"] is True
    for name, value, says in [
        ("TIPLINE_QUEUE_PAGE_SIZE", "fifty", "a whole number"),
        ("TIPLINE_QUEUE_PAGE_SIZE", "true", "a whole number"),
        ("TIPLINE_SMTP_STARTTLS", "yes", "true or false"),
        ("TIPLINE_SUPERVISOR_EMAILS", "duty@example.org", "a JSON list"),
    ]:
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigError, match=f"{name} must be {says}"):
            _app(tmp_path, SECRET_KEY=SECRET)
        monkeypatch.delenv(name)


def test_redis_comes_from_the_setting_only_for_the_queue_and_the_limiter(tmp_path, monkeypatch):
    from tipline.jobs import redis_url

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:9/0")  # not a Tipline setting
    app = _app(tmp_path, SECRET_KEY=SECRET)
    assert redis_url(app) is None
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    monkeypatch.setenv("TIPLINE_REDIS_URL", "redis://127.0.0.1:9/1")
    app = _app(tmp_path, SECRET_KEY=SECRET)
    assert redis_url(app) == app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:9/1"


def test_the_command_names_an_unknown_variable_without_a_traceback(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tipline.cli import main

    monkeypatch.setenv("TIPLINE_SECRET_KEY", SECRET)
    monkeypatch.setenv("TIPLINE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TIPLINE_SECRETKEY", "x")
    result = CliRunner().invoke(main, ["db", "current"])
    assert result.exit_code == 1
    assert "TIPLINE_SECRETKEY is not a setting. Did you mean TIPLINE_SECRET_KEY?" in result.output
