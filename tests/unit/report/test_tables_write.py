"""Each table rule's entry point writes exactly what its csv/md/tex renderers give."""

from __future__ import annotations

import json

import pytest

from synth2real.report import claims_table, methods_table, selection_table
from tests.unit.report.fakes import fake_summary


@pytest.mark.parametrize("table", [claims_table, methods_table, selection_table])
def test_rule_entry_point_writes_csv_md_tex(tmp_path, table):
    (tmp_path / "summary.json").write_text(json.dumps(fake_summary()))
    out = [tmp_path / "t" / f"table.{ext}" for ext in ("csv", "md", "tex")]
    table.write(str(tmp_path / "summary.json"), *map(str, out))
    assert [p.read_text() for p in out] == [table.to_csv(fake_summary()),
                                            table.to_markdown(fake_summary()),
                                            table.to_latex(fake_summary())]
