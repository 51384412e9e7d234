"""Each table rule's entry point writes exactly what its csv/md/tex renderers give."""

from __future__ import annotations

import json

import pytest

from synth2real.report import tables
from tests.unit.report.fakes import fake_summary


@pytest.mark.parametrize("name", sorted(tables.TABLES))
def test_rule_entry_point_writes_csv_md_tex(tmp_path, name):
    (tmp_path / "summary.json").write_text(json.dumps(fake_summary()))
    out = [tmp_path / "t" / f"table.{ext}" for ext in ("csv", "md", "tex")]
    tables.write(str(tmp_path / "summary.json"), *map(str, out), table=name)
    renderers = tables.TABLES[name]
    assert [p.read_text() for p in out] == [renderers.to_csv(fake_summary()),
                                            renderers.to_markdown(fake_summary()),
                                            renderers.to_latex(fake_summary())]
