"""The paper's small tables: published vs reproduced, run times from benchmark files."""

from __future__ import annotations

import re

import pytest

from synth2real.report import paper_tables
from synth2real.report.text import hms
from tests.unit.report.fakes import fake_summary


def test_reported_vs_reproduced_table_has_difference():
    table = paper_tables.reported_vs_reproduced_tex(fake_summary())
    # synthetic-100 test: 61.00 +- 1.41 reproduced vs 80.00 published.
    assert re.search(r"real test & 80\.00 & \$61\.00 \\pm 1\.41\$ & \$-\$19\.00", table)


def test_benchmarks_sum_per_stage(tmp_path):
    header = "s\th:m:s\tmax_rss\n"
    (tmp_path / "a.tsv").write_text(header + "10.5\t0:00:10\t1\n")
    (tmp_path / "b.tsv").write_text(header + "20.0\t0:00:20\t1\n30.0\t0:00:30\t1\n")
    secs = paper_tables.stage_seconds({"features": [tmp_path / "a.tsv", tmp_path / "b.tsv"], "none": []})
    assert secs == {"features": pytest.approx(35.5)}  # b: mean of its two repeats
    assert hms(3725) == "1:02:05" and hms(65) == "1:05"
    (tmp_path / "bad.tsv").write_text("x\ty\n1\t2\n")
    with pytest.raises(ValueError, match="not a Snakemake benchmark"):
        paper_tables.read_benchmark(tmp_path / "bad.tsv")
