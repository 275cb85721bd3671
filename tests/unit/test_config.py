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
