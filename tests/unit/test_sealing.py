"""Photos and contact details sealed at rest: a wrong or missing key fails loudly."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tipline import create_app, sealing
from tipline.config import DataKeyError
from tipline.tips import attachments, receipts
from tipline.tips import services as tips

from ..conftest import SECRET
from .test_media import jpeg_with_gps

KEY = base64.b64encode(os.urandom(32)).decode()
OTHER = base64.b64encode(os.urandom(32)).decode()
RKEY = receipts.receipt_key("k" * 40)


def test_sealed_value_opens_only_with_its_key_and_its_context():
    sealed = sealing.seal(KEY, b"call me on 504-555-0100", "tip-contact:A")
    assert b"504-555" not in sealed
    assert sealing.unseal(KEY, sealed, "tip-contact:A") == b"call me on 504-555-0100"
    with pytest.raises(sealing.SealBroken, match="not the one it was sealed with"):
        sealing.unseal(OTHER, sealed, "tip-contact:A")
    with pytest.raises(sealing.SealBroken):
        sealing.unseal(KEY, sealed, "tip-contact:B")  # copied into another row
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(sealing.SealBroken):
        sealing.unseal(KEY, tampered, "tip-contact:A")
    for missing in [None, "", "not base64!", base64.b64encode(b"short").decode()]:
        with pytest.raises(sealing.SealBroken, match="TIPLINE_DATA_KEY"):
            sealing.unseal(missing, sealed, "tip-contact:A")


def test_wrong_data_key_fails_loudly_for_stored_photos_and_contact(session):
    tip, _code = tips.submit_tip(
        session,
        tips.TipReport("Seen at the ferry", contact="Ask for Sam, 504-555-0100"),
        RKEY,
        photos=[jpeg_with_gps()],
        data_key=KEY,
    )
    session.commit()
    assert b"Sam" not in tip.contact_sealed
    assert tips.contact_details(tip, KEY) == "Ask for Sam, 504-555-0100"
    photo = attachments.attachments_for(session, tip)[0]
    assert attachments.open_photo(tip, photo, KEY)[:2] == b"\xff\xd8"
    with pytest.raises(sealing.SealBroken):
        tips.contact_details(tip, OTHER)
    with pytest.raises(sealing.SealBroken):
        attachments.open_photo(tip, photo, OTHER)
    with pytest.raises(sealing.SealBroken):
        attachments.open_photo(tip, photo, None)


def test_production_refuses_to_start_without_a_data_key(tmp_path, monkeypatch):
    monkeypatch.delenv("TIPLINE_DATA_KEY", raising=False)
    with pytest.raises(DataKeyError, match="TIPLINE_DATA_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": SECRET})
    with pytest.raises(DataKeyError, match="32 random bytes"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": SECRET, "DATA_KEY": "abc"})


def test_development_makes_a_data_key_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TIPLINE_DATA_KEY", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path), "ENV": "development"})
    stored = (tmp_path / "data_key").read_text().strip()
    assert app.config["DATA_KEY"] == stored
    assert len(base64.b64decode(stored)) == 32
    assert oct((tmp_path / "data_key").stat().st_mode & 0o777) == "0o600"
    again = create_app({"INSTANCE_PATH": str(tmp_path), "ENV": "development"})
    assert again.config["DATA_KEY"] == stored


def test_the_command_refuses_to_start_without_a_data_key_with_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLINE_")}
    env.update({"TIPLINE_INSTANCE_PATH": str(tmp_path), "TIPLINE_SECRET_KEY": SECRET})
    tipline = str(Path(sys.executable).parent / "tipline")
    result = subprocess.run(
        [tipline, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "TIPLINE_DATA_KEY is missing" in result.stderr
    assert "Traceback" not in result.stderr
