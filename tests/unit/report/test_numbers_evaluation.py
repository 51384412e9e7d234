"""The evaluation macros: values equal the summary, sentences say what the run has (oracle,
selection, aim met or not, verdicts), and every sentence exists for a run without them."""

from __future__ import annotations

import pytest

from synth2real.report.numbers import evaluation as en
from synth2real.report.numbers import numbers
from tests.unit.report.fakes import fake_summary


def test_per_variant_numbers_equal_the_summary():
    s = fake_summary()
    n = en.evaluation_numbers(s)
    g = s["gap_closure"]["pseudo-label"]
    assert n["gap/pseudo-label/mean"] == f"{100 * g['mean']:.1f}"
    assert n["gap/pseudo-label/ci"] == "[{:.1f}, {:.1f}]".format(*(100 * x for x in g["ci95"]))
    boot = s["variants"]["oracle"]["test_acc"]["bootstrap"]["ci95"]
    assert n["ci/oracle/test/boot"] == "[{:.2f}, {:.2f}]".format(*(100 * x for x in boot))
    assert n["delta/synthetic-50/source"] == "$-$10.00"  # stored reversed, read negated
    assert n["oracle/test"] == "96.00" and n["source/test"] == "61.00"
    assert n["role/oracle"] == r"\texttt{oracle}" and n["role/source"] == r"\texttt{synthetic-100}"


def test_intervals_are_the_summary_sentences():
    s = fake_summary()
    n = en.evaluation_numbers(s)
    assert n["interval/seed"] == s["intervals"]["seed"].replace("%", r"\%")
    assert n["interval/bootstrap"].startswith("Seeds and test images resampled jointly")
    assert n["interval/resamples"] == "2000" and n["interval/level"] == "95"


def test_selection_numbers_and_the_aim():
    s = fake_summary()
    n = en.evaluation_numbers(s)
    deploy = s["model_selection"]["criteria"]["target_val_acc"]
    assert n["sel/deploy/criterion"] == r"\texttt{target\_val\_acc}"
    assert n["sel/deploy/variant"] == rf"\texttt{{{deploy['variant']}}}"
    assert n["sel/deploy/gap"] == f"{100 * deploy['gap_closure']['mean']:.1f}"
    assert n["sel/deploy/regret"] == "0.00" and n["sel/snd/regret"] == "20.00"
    assert n["sel/test-best/variant"] == r"\texttt{pseudo-label}"
    # The fake's pick closes 28.6 % of the gap: the text says plainly that it falls short.
    assert "does not reach the aim of closing 70\\,\\% of the gap: it closes 28.6" in n["text/selection"]
    assert "not selectable" in n["text/test-best"]
    s["model_selection"]["criteria"]["target_val_acc"]["gap_closure"] = {"mean": 0.8, "ci95": [0.72, 0.9]}
    assert "meets the aim" in en.evaluation_numbers(s)["text/selection"]
    assert "lower end of its interval" in en.evaluation_numbers(s)["text/selection"]
    s["model_selection"]["criteria"]["target_val_acc"]["gap_closure"] = {"mean": 0.8, "ci95": [0.6, 0.9]}
    assert "reaches down to 60.0" in en.evaluation_numbers(s)["text/selection"]


def test_claim_numbers_carry_the_verdicts():
    s = fake_summary()
    n = en.evaluation_numbers(s)
    for c in s["claims"]:
        assert n[f"claim/{c['id']}/verdict"] == c["verdict"]
        assert f"\\emph{{{c['verdict']}}}" in n["text/claims"]
    assert n["claims/reproduced"] == n["claims/not-reproduced"] == n["claims/inconclusive"] == "1"
    assert "margin of 1 percentage point" in n["text/claims-rule"]


@pytest.mark.parametrize("oracle, evaluation", [(False, True), (False, False)])
def test_sentences_exist_without_oracle_or_selection(prov, oracle, evaluation):
    s = fake_summary(oracle=oracle, evaluation=evaluation)
    n = numbers(s, prov, {}, {}, "cmd")
    assert "no oracle" in n["text/oracle"] and "sel/deploy/gap" not in n
    if evaluation:
        assert "cannot be checked" in n["text/selection"]
    else:
        assert n["text/selection"] == "This run has no model-selection results."
        assert n["text/claims"] == "This run judges no claim."


def test_an_oracle_that_does_not_beat_source_only_gives_no_gap_closure(prov):
    s = fake_summary(oracle=True, evaluation=True)
    s["gap_closure"] = None
    for c in s["model_selection"]["criteria"].values():
        c["gap_closure"] = None
    n = numbers(s, prov, {}, {}, "cmd")
    assert "does not beat the source-only model" in n["text/oracle"]
    assert not any(k.startswith("gap/") for k in n) and "cannot be checked" in n["text/selection"]


def test_the_ceiling_says_whether_a_perfect_choice_could_have_met_the_aim():
    s = fake_summary()
    best = s["model_selection"]["test_best"]["variant"]
    s["gap_closure"][best] = {"mean": 0.5, "ci95": [0.4, 0.6]}
    text = en.evaluation_numbers(s)["text/selection"]
    assert f"the best candidate in hindsight (\\texttt{{{best}}}" in text
    assert "closes 50.0\\,\\% [40.0, 60.0]" in text and "even a perfect choice" in text
    s["gap_closure"][best] = {"mean": 0.8, "ci95": [0.7, 0.9]}
    assert "the choice is what falls short" in en.evaluation_numbers(s)["text/selection"]


def test_the_label_shift_corrections_estimates_are_stated_beside_the_true_prior():
    s = fake_summary()
    assert en.evaluation_numbers(s)["text/priors"] == ""
    s["variants"]["pseudo-label"]["prior"] = {"kind": "em", "source": [0.5, 0.5],
                                              "estimated": [0.7, 0.3],
                                              "pool_true_in_domain": [0.6, 0.4]}
    text = en.evaluation_numbers(s)["text/priors"]
    assert "\\texttt{pseudo-label} (EM) (70.0, 30.0)" in text
    assert "against (50.0, 50.0)" in text and "are (60.0, 40.0)" in text


def test_the_pixel_sentence_pairs_each_refined_variant_with_its_twin():
    s = fake_summary(("synthetic-50", "synthetic-100", "pseudo-label", "align", "fda"))
    assert en.pixel_numbers(s)["text/pixel"] == "This run trains no pixel-level part."
    s["variants"]["fda"]["method"] = {"settings": {"source": {"features": "aligned",
                                                              "pixel": "fda"}}}
    s["variants"]["fda"]["val_acc"] = {"mean": 0.747}
    s["variants"]["align"]["val_acc"] = {"mean": 0.842}
    s["claims"].append({"id": "refined-fda", "a": "fda", "b": "align", "interval": "bootstrap",
                        "effect": {"mean": 0.1, "ci95": [0.07, 0.13]}, "verdict": "reproduced"})
    text = en.pixel_numbers(s)["text/pixel"]
    acc = 100 * s["variants"]["fda"]["test_acc"]["mean"]
    assert f"\\texttt{{fda}} {acc:.2f}\\,\\%" in text
    assert "+10.00 points [+7.00, +13.00] against \\texttt{align}" in text
    assert "\\texttt{fda} 74.70\\,\\% against 84.20\\,\\%" in text
