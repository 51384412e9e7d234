"""The labeled-budget track's summary on fake metrics with known answers: the crossing where the
photos-alone curve reaches the zero-label pick (log-linear, censored at either end), intervals
from the summary's resamples, claims on accuracies averaged over their budgets, and errors
that name the file or key to fix."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from synth2real.analysis import bootstrap
from synth2real.analysis import budgets as track
from synth2real.analysis.summary import correctness
from synth2real.config.budgets import BudgetClaim
from synth2real.config.evaluation import Bootstrap
from synth2real.errors import DataError
from tests.unit.analysis.budget_fakes import (
    ALL,
    CLASSES,
    CURVES,
    PER_CLASS,
    REFS,
    RESAMPLES,
    SEEDS,
    N,
    make_budgets,
    write_run,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_budgets(tmp_path_factory.mktemp("budgets"))


# -- the crossing ---------------------------------------------------------------------------

def test_crossing_interpolates_in_log_photos_between_the_budgets_around_it():
    photos = [1, 3, 10, 30, 100, 190]
    acc = np.array([[0.40, 0.50, 0.60, 0.70, 0.80, 0.90],    # 0.65: halfway from 10 to 30
                    [0.40, 0.50, 0.60, 0.70, 0.80, 0.90],    # 0.625: a quarter of the way
                    [0.40, 0.50, 0.60, 0.70, 0.80, 0.90]])   # 0.85: halfway from 100 to 190
    x, code = track.crossing(photos, acc, np.array([0.65, 0.625, 0.85]))
    assert code.tolist() == [0, 0, 0]
    assert x == pytest.approx([math.sqrt(10 * 30), 10 * 3 ** 0.25, math.sqrt(100 * 190)])


def test_crossing_is_censored_at_either_end_and_takes_the_first_crossing():
    photos = [1, 10, 100]
    acc = np.array([[0.7, 0.8, 0.9],     # already above 0.6 at one photo
                    [0.3, 0.4, 0.5],     # never reaches 0.6
                    [0.5, 0.7, 0.5],     # reaches 0.6 between 1 and 10, dips again after
                    [0.5, 0.6, 0.7]])    # exactly at the reference at 10: reached there
    x, code = track.crossing(photos, acc, np.full(4, 0.6))
    assert code.tolist() == [-1, 1, 0, 0]
    assert x[0] == 1 and x[1] == 100  # clamped to the track's ends, flagged by the code
    assert x[2] == pytest.approx(10 ** 0.5) and x[3] == pytest.approx(10)


def test_crossing_needs_ascending_photos():
    with pytest.raises(ValueError, match="strictly ascending"):
        track.crossing([1, 10, 10], np.zeros((1, 3)), np.zeros(1))


# -- the headline and its interval ----------------------------------------------------------

def test_the_synthetic_set_is_worth_the_crossing_with_an_interval_around_it(run):
    w = run["worth"]["zero_label"]
    assert (w["method"], w["reference"], w["censored"]) == ("real-only", "threshold-0.9", None)
    assert w["reference_acc"] == pytest.approx(0.65)
    assert w["photos_per_class"] == pytest.approx(math.sqrt(300))
    lo, hi = w["ci95"]
    assert 3 < lo < w["photos_per_class"] < hi < 100
    s = run["worth"]["source_only"]
    assert s["reference"] == "synthetic-1000"
    assert s["photos_per_class"] == pytest.approx(math.sqrt(3))
    assert (s["smallest"], s["largest"]) == (1, ALL)


def test_a_reference_out_of_the_curves_reach_is_censored_not_extrapolated(tmp_path):
    high = make_budgets(tmp_path / "high", refs={**REFS, "zero_label": ("threshold-0.9", 0.97)})
    w = high["worth"]["zero_label"]
    assert (w["photos_per_class"], w["censored"]) == (None, "beyond_largest")
    assert w["ci95"][1] is None and w["resamples"]["beyond_largest"] > 0.9
    low = make_budgets(tmp_path / "low", refs={**REFS, "zero_label": ("threshold-0.9", 0.30)})
    w = low["worth"]["zero_label"]
    assert (w["photos_per_class"], w["censored"]) == (None, "at_most_smallest")
    assert w["ci95"][0] is None and w["resamples"]["at_most_smallest"] > 0.9


def test_all_sits_at_the_photos_it_used(tmp_path):
    """Between 100 photos and `all` (190 here), the crossing moves on the log of 190, not of a
    placeholder: 0.85 is halfway, at sqrt(100 x 190)."""
    run = make_budgets(tmp_path, refs={**REFS, "zero_label": ("threshold-0.9", 0.85)})
    assert run["photos_per_class"]["all"] == ALL
    assert run["worth"]["zero_label"]["photos_per_class"] == pytest.approx(math.sqrt(100 * ALL))


# -- every budget's accuracy, on the summary's resamples ------------------------------------

def test_every_budget_has_its_mean_inside_both_intervals_and_the_photos_it_used(run):
    assert list(run["methods"]) == list(CURVES)
    for m, accs in CURVES.items():
        got = run["methods"][m]["budgets"]
        assert list(got) == [str(b) for b in PER_CLASS]
        for b, acc in zip(PER_CLASS, accs, strict=True):
            e = got[str(b)]
            t = e["test_acc"]
            assert e["variant"] == f"{m}@{b}"
            assert t["mean"] == pytest.approx(acc) and t["bootstrap"]["mean"] == pytest.approx(acc)
            assert t["ci95"][0] < acc < t["ci95"][1]
            assert t["bootstrap"]["ci95"][0] < acc < t["bootstrap"]["ci95"][1]
            assert t["std"] > 0 and list(t["per_seed"]) == [str(s) for s in SEEDS]
            n = ALL if b == "all" else b
            assert (e["photos_per_class"], e["real_labels"]) == (n, n * len(CLASSES))


def test_references_use_the_summarys_resamples(tmp_path):
    """The zero-label pick's interval is the one the summary gives it: the same draw, so the
    track's intervals are comparable with (and paired to) the summary's."""
    kw = write_run(tmp_path)
    out = tmp_path / "budgets.json"
    track.summarize(**kw, budgets=str(out))
    run = json.loads(out.read_text())
    y = np.arange(N) % len(CLASSES)
    paths = kw["study_metrics"][3 * len(SEEDS):4 * len(SEEDS)]  # threshold-0.9
    C = correctness([json.loads(Path(p).read_text()) for p in paths], SEEDS, y)
    want = bootstrap.describe(C, bootstrap.draw(len(SEEDS), N, Bootstrap(resamples=RESAMPLES)))
    ref = run["references"]["zero_label"]
    assert (ref["variant"], ref["criterion"], ref["real_labels"]) == ("threshold-0.9",
                                                                      "target_val_acc", 0)
    assert ref["test_acc"]["bootstrap"] == want
    assert run["references"]["oracle"]["real_labels"] == ALL * len(CLASSES)
    assert run["intervals"]["resamples"] == RESAMPLES


# -- claims ---------------------------------------------------------------------------------

def test_claims_average_each_side_over_their_budgets(run):
    by_id = {c["id"]: c for c in run["claims"]}
    c = by_id["bridged-beats-real-only"]
    # bridged at 1 and 3: 0.62, 0.66; real-only: 0.40, 0.50.
    assert (c["a"], c["b"], c["per_class"]) == ("bridged", "real-only", [1, 3])
    assert c["means"] == pytest.approx({"a": 0.64, "b": 0.45})
    assert c["effect"]["mean"] == pytest.approx(0.19)
    assert c["effect"]["ci95"][0] < 0.19 < c["effect"]["ci95"][1]
    assert c["verdict"] == "reproduced" and "reproduced" in c["rule"]
    d = by_id["pooling-at-100"]  # pooled 0.75 vs real-only 0.80 at 100: the other way
    assert d["effect"]["mean"] == pytest.approx(-0.05) and d["verdict"] == "not reproduced"


def test_a_claims_budgets_are_the_ones_averaged(tmp_path):
    """Averaging over [3, 10] instead of [1, 3] moves the effect to its own budgets' mean."""
    claim = BudgetClaim(id="c", text="t", a="bridged", b="real-only", per_class=[3, 10])
    run = make_budgets(tmp_path, claims=[claim])
    assert run["claims"][0]["effect"]["mean"] == pytest.approx((0.66 + 0.72 - 0.50 - 0.60) / 2)


def test_a_tiny_track_without_claims_or_oracle(tmp_path):
    """Two budgets, two methods, no claims, no oracle: every key still there."""
    run = make_budgets(tmp_path, per_class=[1, "all"], oracle=False, claims=[],
                       curves={"real-only": [0.40, 0.90], "bridged": [0.62, 0.90]})
    assert run["per_class"] == [1, "all"] and run["claims"] == []
    assert run["references"]["oracle"] is None
    assert run["worth"]["zero_label"]["photos_per_class"] == pytest.approx(
        math.exp(0.5 * math.log(ALL)))
    assert set(run["methods"]["bridged"]["budgets"]) == {"1", "all"}


def test_a_track_without_the_real_only_method_has_no_headline(tmp_path):
    run = make_budgets(tmp_path, curves={"bridged": CURVES["bridged"]}, claims=[])
    assert run["worth"] == {}


# -- errors name the file or key ------------------------------------------------------------

def test_a_metrics_file_of_another_budget_is_named(tmp_path):
    kw = write_run(tmp_path)
    kw["metrics"][3:6], kw["metrics"][6:9] = kw["metrics"][6:9], kw["metrics"][3:6]  # @3 <-> @10
    with pytest.raises(DataError, match=r"real-only@10/seed0/metrics.json: metrics of "
                                        r"'real-only@10' seed 0, expected 'real-only@3'"):
        track.summarize(**kw, budgets=str(tmp_path / "b.json"))


def test_a_stale_summary_is_named(tmp_path):
    kw = write_run(tmp_path)
    path = Path(kw["summary"])
    s = json.loads(path.read_text())
    s["variants"]["threshold-0.9"]["test_acc"]["mean"] = 0.5
    path.write_text(json.dumps(s))
    with pytest.raises(DataError, match=r"summary.json: variants.threshold-0.9.test_acc.mean is "
                                        r"0.5.*rerun rule summary"):
        track.summarize(**kw, budgets=str(tmp_path / "b.json"))
    kw["resampling"] = Bootstrap(resamples=RESAMPLES + 1)
    with pytest.raises(DataError, match="evaluation.bootstrap says 401"):
        track.summarize(**kw, budgets=str(tmp_path / "b.json"))


def test_missing_photo_counts_are_named(tmp_path):
    kw = write_run(tmp_path)
    path = Path(kw["metrics"][0])
    m = json.loads(path.read_text())
    del m["target_labels"]
    path.write_text(json.dumps(m))
    with pytest.raises(DataError, match=r"real-only@1/seed0/metrics.json: no key "
                                        r"target_labels.photos_per_class"):
        track.summarize(**kw, budgets=str(tmp_path / "b.json"))


def test_inputs_out_of_step_with_the_params_are_named(tmp_path):
    kw = write_run(tmp_path)
    with pytest.raises(DataError, match="53 budget metrics files for 3 methods x 6 budgets x 3"):
        track.summarize(**{**kw, "metrics": kw["metrics"][1:]}, budgets=str(tmp_path / "b.json"))


def test_the_crossings_interval_is_paired_with_the_reference():
    """A reference that is the curve's own 10-photo model crosses at 10 photos on every
    resample: curve and reference are resampled together, so their shared noise cancels."""
    rng = np.random.default_rng(0)
    curve = [(rng.random((3, 400)) < a).astype(float) for a in (0.2, 0.4, 0.6, 0.8)]
    rs = bootstrap.draw(3, 400, Bootstrap(resamples=300))
    w = track.worth([1, 3, 10, 30], curve, curve[2], rs, "real-only", "itself")
    assert w["photos_per_class"] == pytest.approx(10)
    assert w["ci95"] == pytest.approx([10, 10])


def test_a_methods_description_speaks_of_b_photos(run):
    assert run["methods"]["bridged"]["description"] == "b labeled real photos per class (bridged)"
    assert run["methods"]["bridged"]["use"] == "bridged"
