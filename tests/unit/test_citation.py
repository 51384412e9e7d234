"""CITATION.cff and LICENSE: present, parseable, and consistent with the package."""

from __future__ import annotations

import datetime
import tomllib

import yaml

from tests.conftest import REPO


def test_citation_file_is_valid_cff_1_2_0():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    # The keys CFF 1.2.0 requires, plus the ones this repository promises.
    assert cff["cff-version"] == "1.2.0"
    assert {"message", "title", "authors", "version", "date-released", "license"} <= set(cff)
    assert cff["authors"] and all(a.get("name") or a.get("family-names") for a in cff["authors"])
    datetime.date.fromisoformat(str(cff["date-released"]))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert str(cff["version"]) == project["version"]
    assert (REPO / "LICENSE").read_text().startswith(f"{cff['license']} License")
