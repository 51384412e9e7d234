"""Reading the summary's evaluation keys: the scale's two ends, candidates, paired differences
in either stored direction, and a summary that lacks the keys."""

from __future__ import annotations

import pytest

from synth2real.report import cells
from tests.unit.report.fakes import fake_summary


def test_scale_ends_and_candidates():
    s = fake_summary()
    assert cells.source_only(s) == "synthetic-100" and cells.oracle(s) == "oracle"
    assert "oracle" not in cells.candidates(s) and cells.table_order(s)[0] == "synthetic-100"
    assert cells.table_order(s)[-1] == "oracle"
    assert cells.gap_closure(s, "synthetic-100")["mean"] == 0 and cells.gap_closure(s, "oracle")["mean"] == 1
    assert cells.gap_closure(s, "pseudo-label") == s["gap_closure"]["pseudo-label"]
    no = fake_summary(oracle=False)
    assert cells.oracle(no) is None and cells.gap_closure(no, "pseudo-label") is None


def test_paired_reads_either_direction():
    s = fake_summary()
    stored = next(c for c in s["comparisons"] if c["b"] == "synthetic-50")  # source - smaller
    d = cells.paired(s, "synthetic-50", "synthetic-100")
    lo, hi = stored["bootstrap"]["ci95"]
    assert d["mean"] == -stored["bootstrap"]["mean"] and d["ci95"] == [-hi, -lo]
    assert cells.paired(s, "synthetic-100", "synthetic-50")["mean"] == stored["bootstrap"]["mean"]
    assert cells.paired(s, "pseudo-label", "synthetic-50") is None


def test_seed_comparison_when_no_bootstrap():
    s = fake_summary()
    for c in s["comparisons"]:
        del c["bootstrap"]
    c = next(c for c in s["comparisons"] if c["a"] == "pseudo-label")
    assert cells.paired(s, "pseudo-label", "synthetic-100")["ci95"] == c["ci95"]


def test_cells():
    assert cells.points(0.6245) == "62.45" and cells.points(-0.01, sign=True) == "-1.00"
    assert cells.share(0.377) == "37.7" and cells.interval(None) == "–"
    assert cells.interval([-0.1, 0.2], cells.share) == "[-10.0, 20.0]"
    assert cells.latex_cell("-1.00 [–]") == "$-$1.00 [--]"
    assert cells.level({"intervals": {"level": 0.9}}) == "90%"
    assert cells.level({"intervals": {"level": 0.9}}, "seeds") == "95%"


@pytest.mark.parametrize("kind, key", [("bootstrap", "ci95"), ("seeds", "seed_ci95")])
def test_claim_ci_reads_the_deciding_interval(kind, key):
    c = fake_summary()["claims"][0] | {"interval": kind}
    assert cells.claim_ci(c) == c["effect"][key]
