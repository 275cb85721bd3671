"""One role table for every route, deny by default, and headers on every response."""

import pytest

from tipline.web import policy


def test_every_route_is_in_the_role_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(policy.ROUTE_ROLES))
    assert missing == [], f"routes without an entry in web/policy.py ROUTE_ROLES: {missing}"
    stale = sorted(set(policy.ROUTE_ROLES) - endpoints)
    assert stale == [], f"ROUTE_ROLES names routes that do not exist: {stale}"


def test_a_route_missing_from_the_table_is_refused(app):
    app.add_url_rule("/forgotten", "forgotten", lambda: "tip contents")
    response = app.test_client().get("/forgotten")
    assert response.status_code == 403
    assert "tip contents" not in response.get_data(as_text=True)


def _boom():
    raise RuntimeError("secret internals: postgresql://user:pw@db")


@pytest.mark.parametrize("path", ["/", "/no-such-page", "/boom", "/staff/queue"])
def test_security_headers_are_on_every_response_errors_included(app, monkeypatch, path):
    app.add_url_rule("/boom", "boom", _boom)
    monkeypatch.setitem(policy.ROUTE_ROLES, "boom", policy.PUBLIC)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get(path)
    csp = response.headers["Content-Security-Policy"]
    for directive in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]:
        assert directive in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_server_error_page_is_plain_and_leaks_nothing(app, monkeypatch):
    app.add_url_rule("/boom", "boom", _boom)
    monkeypatch.setitem(policy.ROUTE_ROLES, "boom", policy.PUBLIC)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert "secret internals" not in page and "Traceback" not in page


def test_hsts_is_sent_over_https_but_not_to_onion_hosts(client):
    secure = client.get("/", base_url="https://tips.example.org")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    onion = client.get("/", base_url="https://abcdefghijklmnop.onion")
    assert "Strict-Transport-Security" not in onion.headers
    plain = client.get("/")
    assert "Strict-Transport-Security" not in plain.headers
