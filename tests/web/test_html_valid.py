"""Every page a visitor or a staff member of each role can reach by following links is valid
HTML, checked with the Nu HTML Checker (the W3C validator's engine, `vnu-jar` from npm, run
with Java). The jar: ``VNU_JAR``, else ``.ci/node/node_modules/vnu-jar/build/dist/vnu.jar``
(where `.ci/run` installs it). Without Java or the jar the test is skipped, except under CI."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from collections import deque
from pathlib import Path

import pytest

from tipline.auth.models import Role
from tipline.demo import seed_demo
from tipline.tips.receipts import receipt_key

from ..conftest import IN_CI, sign_in

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
JAR = Path(os.environ.get("VNU_JAR") or ROOT / ".ci/node/node_modules/vnu-jar/build/dist/vnu.jar")
#: Links not followed: files, feeds and sign-out (a POST elsewhere; a GET here would end the
#: crawl's session).
SKIP = re.compile(r"^/(static/|staff/logout|api/|.*\.(pdf|png|jpe?g|webp|svg|xml|atom|json|csv)\b)")
MAX_PAGES = 120


def _crawl(client, starts: list[str]) -> dict[str, str]:
    seen: dict[str, str] = {}
    queue = deque(starts)
    while queue and len(seen) < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        response = client.get(url, follow_redirects=True)
        seen[url] = ""
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True)
        seen[url] = page
        for href in re.findall(r'<a\b[^>]*\shref="([^"#]+)', page):
            link = html.unescape(href)
            if link.startswith("/") and not SKIP.match(link) and link not in seen:
                queue.append(link)
    return {url: page for url, page in seen.items() if page}


def _validate(pages: dict[str, str], folder: Path) -> list[str]:
    folder.mkdir()
    names = {}
    for i, (url, page) in enumerate(sorted(pages.items())):
        path = folder / f"page{i:03d}.html"
        path.write_text(page)
        names[path.name] = url
    result = subprocess.run(
        ["java", "-jar", str(JAR), "--errors-only", "--format", "json", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    messages = json.loads(result.stderr or '{"messages": []}')["messages"]
    return [
        f"{names[Path(m['url']).name]} line {m.get('lastLine')}: {m['message']}"
        for m in messages
        if m["type"] == "error"
    ]


@pytest.fixture
def checker():
    if shutil.which("java") is None or not JAR.exists():
        if IN_CI:
            pytest.fail(f"CI must check HTML: java or {JAR} is missing")
        pytest.skip(f"HTML check skipped: java or the Nu HTML Checker ({JAR}) is missing")


def test_every_page_in_every_role_is_valid_html(
    checker, app, client, session, make_staff, tmp_path, request
):
    if "postgresql" in request.node.callspec.id:
        pytest.skip("the HTML does not depend on the database: checked once, on SQLite")
    users = {}
    accounts = seed_demo(session, receipt_key(app.config["SECRET_KEY"]), app.config["DATA_KEY"])
    session.commit()
    for role in Role:
        users[role] = make_staff(role, f"check-{role.value}").username
    pages = {f"public {u}": p for u, p in _crawl(client, ["/", "/receipt"]).items()}
    for role, username in users.items():
        role_client = app.test_client()
        sign_in(role_client, username)
        for url, page in _crawl(role_client, ["/staff/"]).items():
            pages[f"{role.value} {url}"] = page
    assert accounts and len(pages) > 40
    print(f"HTML check: {len(pages)} pages ({sorted({k.split()[0] for k in pages})})")
    errors = _validate(pages, tmp_path / "pages")
    assert errors == [], f"{len(errors)} HTML errors:\n" + "\n".join(errors[:60])
