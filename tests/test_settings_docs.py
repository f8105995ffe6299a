"""docs/settings.md lists every setting: each Settings field and each MIREL_* variable read."""

from __future__ import annotations

import re
from pathlib import Path

from mirel.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
DOCUMENTED = set(re.findall(r"^\| `(MIREL_[A-Z0-9_]+)` \|", DOC, flags=re.MULTILINE))
# Strings that look like variables but are not read from the environment.
NOT_VARIABLES = {"MIREL_TEST_PAUSED"}  # the line a paused test deploy prints


def test_every_instance_setting_is_documented() -> None:
    fields = {f"MIREL_{name.upper()}" for name in Settings.model_fields}
    assert fields - DOCUMENTED == set(), "add these to docs/settings.md"


def test_every_variable_read_in_the_code_is_documented() -> None:
    read: set[str] = set()
    for folder in ("src", "tests", ".ci"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ""} and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                read |= set(re.findall(r"\b(MIREL_[A-Z][A-Z0-9_]*[A-Z0-9])\b", text))
    assert read - DOCUMENTED - NOT_VARIABLES == set(), "add these to docs/settings.md"


def test_documented_instance_settings_exist() -> None:
    instance_table = DOC.split("## Instance settings", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `MIREL_([A-Z0-9_]+)` \|", instance_table, flags=re.MULTILINE))
    assert {name.lower() for name in listed} == set(Settings.model_fields)
