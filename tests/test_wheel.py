"""The built wheel is the whole application: installed into a fresh virtual environment
outside the checkout, it migrates a database and renders the home page, a notice and the tip
form with its own templates and static files."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

RENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import tipline
    from tipline import create_app, db, migrations
    from tipline.demo import DEMO_SLUG, seed_demo

    here = Path(tipline.__file__).resolve()
    assert "site-packages" in here.parts and not str(here).startswith(sys.argv[1]), here
    app = create_app({"SECRET_KEY": "w" * 48, "DATABASE_URL": sys.argv[2]})
    assert app.template_folder.startswith(str(here.parent)), app.template_folder
    with app.app_context():
        migrations.upgrade(db.engine())
        seed_demo(db.session())
        db.session().commit()
    client = app.test_client()
    for path, needle in [
        ("/", "Tipline"),
        (f"/notices/{DEMO_SLUG}", "Alexis"),
        (f"/notices/{DEMO_SLUG}/tip", 'name="narrative"'),
        ("/static/css/site.css", "{"),
        ("/static/img/no-photo.svg", "<svg"),
    ]:
        response = client.get(path)
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and needle in body, (path, response.status_code)
        print("ok", path)
    """
)


def test_the_wheel_installed_elsewhere_renders_pages_and_serves_static_files(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("tipline-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The dependencies come from this environment's site-packages (no network needed); only a
    # plain path is added, so this environment's editable Tipline stays invisible there.
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True
        ).strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIPLINE_", "PYTHON"))}
    env["TIPLINE_INSTANCE_PATH"] = str(work / "instance")
    env["TIPLINE_DATA_KEY"] = "dGVzdC1kYXRhLWtleS0zMi1ieXRlcy1sb25nLW9rISE="
    result = subprocess.run(
        [python, "-c", RENDER, str(ROOT), f"sqlite:///{work / 'w.sqlite3'}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok ") == 5
    # The installed command runs the same installed code.
    cli = subprocess.run(
        [venv / "bin" / "tipline", "db", "current"],
        cwd=work,
        env={
            **env,
            "TIPLINE_SECRET_KEY": "w" * 48,
            "TIPLINE_DATABASE_URL": f"sqlite:///{work / 'w.sqlite3'}",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0 and cli.stdout.strip().isdigit(), cli.stdout + cli.stderr
