"""Reading the summary's evaluation keys: the scale's two ends, candidates, paired differences
in either stored direction, and a summary that lacks the keys."""

from __future__ import annotations

import pytest

from synth2real.report import evaluation as ev
from tests.unit.report.fakes import fake_summary


def test_scale_ends_and_candidates():
    s = fake_summary()
    assert ev.source_only(s) == "synthetic-100" and ev.oracle(s) == "oracle"
    assert "oracle" not in ev.candidates(s) and ev.table_order(s)[0] == "synthetic-100"
    assert ev.table_order(s)[-1] == "oracle"
    assert ev.gap_closure(s, "synthetic-100")["mean"] == 0 and ev.gap_closure(s, "oracle")["mean"] == 1
    assert ev.gap_closure(s, "pseudo-label") == s["gap_closure"]["pseudo-label"]
    no = fake_summary(oracle=False)
    assert ev.oracle(no) is None and ev.gap_closure(no, "pseudo-label") is None


def test_paired_reads_either_direction():
    s = fake_summary()
    stored = next(c for c in s["comparisons"] if c["b"] == "synthetic-50")  # source - smaller
    d = ev.paired(s, "synthetic-50", "synthetic-100")
    lo, hi = stored["bootstrap"]["ci95"]
    assert d["mean"] == -stored["bootstrap"]["mean"] and d["ci95"] == [-hi, -lo]
    assert ev.paired(s, "synthetic-100", "synthetic-50")["mean"] == stored["bootstrap"]["mean"]
    assert ev.paired(s, "pseudo-label", "synthetic-50") is None


def test_seed_comparison_when_no_bootstrap():
    s = fake_summary()
    for c in s["comparisons"]:
        del c["bootstrap"]
    c = next(c for c in s["comparisons"] if c["a"] == "pseudo-label")
    assert ev.paired(s, "pseudo-label", "synthetic-100")["ci95"] == c["ci95"]


def test_cells():
    assert ev.points(0.6245) == "62.45" and ev.points(-0.01, sign=True) == "-1.00"
    assert ev.share(0.377) == "37.7" and ev.interval(None) == "–"
    assert ev.interval([-0.1, 0.2], ev.share) == "[-10.0, 20.0]"
    assert ev.latex_cell("-1.00 [–]") == "$-$1.00 [--]"
    assert ev.level({"intervals": {"level": 0.9}}) == "90%"
    assert ev.level({"intervals": {"level": 0.9}}, "seeds") == "95%"


@pytest.mark.parametrize("kind, key", [("bootstrap", "ci95"), ("seeds", "seed_ci95")])
def test_claim_ci_reads_the_deciding_interval(kind, key):
    c = fake_summary()["claims"][0] | {"interval": kind}
    assert ev.claim_ci(c) == c["effect"][key]
