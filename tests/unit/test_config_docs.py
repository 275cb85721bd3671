"""docs/configuration.md describes exactly the settings ``config.Defaults`` has, each once."""

import re
from collections import Counter
from pathlib import Path

from tipline.config import NOT_SETTINGS, settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _table_names() -> Counter[str]:
    names: Counter[str] = Counter()
    for line in DOC.read_text().splitlines():
        if line.startswith("| `TIPLINE_"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`TIPLINE_([A-Z0-9_]+)`", first_cell))
    return names


def test_every_setting_is_documented_once_and_nothing_else_is():
    documented = _table_names()
    assert [name for name, count in documented.items() if count > 1] == []
    assert sorted(set(settings()) - set(documented)) == [], "settings missing from the page"
    assert sorted(set(documented) - set(settings())) == [], "the page names unknown settings"


def test_the_variables_that_are_not_settings_are_named_on_the_page():
    text = DOC.read_text()
    for name in NOT_SETTINGS:
        assert f"TIPLINE_{name}" in text
