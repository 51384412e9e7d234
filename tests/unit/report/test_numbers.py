"""The paper's `\\Num` macros: every variant and role, verdicts, the offline switch, main.tex's keys."""

from __future__ import annotations

import re

import pytest

from synth2real.report import numbers, paper_tables
from tests.unit.report.fakes import fake_summary


def test_numbers_cover_every_variant_and_role(prov):
    n = numbers.numbers(fake_summary(), prov, {"features": 75.0}, {"test": 30}, "make reproduce")
    assert n["acc/synthetic-50/test/mean"] == "51.00" and n["acc/pseudo-label/test/mean"] == "71.00"
    # Roles alias the smallest/largest baseline and the adapted model.
    assert n["acc/small/test/mean"] == "51.00" and n["acc/large/test/mean"] == "61.00"
    assert n["acc/large/test/std"] == "1.41"
    assert n["rep/large/test"] == "80.00" and n["diff/large/test"] == "$-$19.00"
    assert "rep/small/test" not in n  # nothing published for synthetic-50
    assert n["delta/adapted-large/test"] == "+10.00"
    assert n["verdict/adapted-large"] == "higher in all 2 seeds"
    assert n["pl/adapted/pseudo-label-acc"] == "58.00"
    assert n["time/features"] == "1:15" and n["count/test"] == "30"
    assert n["study"] == r"demo\_study" and n["hw/cpu"] == "Test CPU"
    assert n["lr"] == "0.001" and n["threshold"] == "0.51"


def test_a_new_method_appears_without_code_changes(prov):
    s = fake_summary(variants=("synthetic-50", "synthetic-100", "pseudo-label", "dann"))
    n = numbers.numbers(s, prov, {}, {}, "cmd")
    # The oracle (96.00) is more accurate, but it sees target labels: never the best candidate.
    assert n["acc/dann/test/mean"] == "81.00" and n["best/variant"] == r"\texttt{dann}"
    table = paper_tables.reported_vs_reproduced_tex(s)
    assert "dann" not in table  # nothing published to compare with
    assert table.count(r"\multirow{3}") == 2


def test_mixed_seed_verdict():
    assert numbers.paired_verdict({"0": 0.5, "1": 0.6}, {"0": 0.6, "1": 0.5}) == \
        "higher in 1 of 2 seeds, so not a consistent change"
    assert numbers.paired_verdict({"0": 0.5, "1": 0.6}, {"0": 0.4, "1": 0.5}) == "lower in all 2 seeds"


def test_numbers_tex_offline_switch_and_notice(prov):
    tex_on = numbers.numbers_tex({"a/b": "1"}, True, numbers.offline_notice(prov["config"]))
    assert r"\offlinetrue" in tex_on and "Tiny-ImageNet" in tex_on and "CIFAR-10" in tex_on
    assert "not the synthetic-to-real figures" in tex_on
    assert r"\@namedef{s2r@a/b}{1}" in tex_on
    assert r"\offlinefalse" in numbers.numbers_tex({"a/b": "1"}, False, "")
    with pytest.raises(ValueError, match="LaTeX cannot name"):
        numbers.numbers_tex({"bad key{": "1"}, True, "")


def _keys_in_main_tex(budgets: bool = False) -> set[str]:
    """The keys main.tex quotes: those outside its labeled-budget section, or (`budgets`)
    those inside it, which a run without the track never reads (\\ifbudgets)."""
    from tests.conftest import REPO

    text = (REPO / "paper" / "main.tex").read_text()
    body = re.sub(r"(?<!\\)%.*", "", text)  # drop comments, keep \%
    before, rest = body.split("\\ifbudgets", 1)
    inside, after = rest.split("\\fi\n", 1)
    return set(re.findall(r"\\Num\{([^}]+)\}", inside if budgets else before + after))


@pytest.mark.parametrize("oracle, evaluation", [(True, True), (False, True), (False, False)])
@pytest.mark.parametrize("variants", [
    ("synthetic-50", "synthetic-100", "pseudo-label"),        # sizes without published values
    ("synthetic-500", "synthetic-1000", "pseudo-label"),      # the published sizes
])
def test_every_number_main_tex_quotes_is_generated(prov, variants, oracle, evaluation):
    """A key main.tex uses but the generator lacks would be a LaTeX error in that configuration
    (with or without an oracle, with or without the evaluation's keys)."""
    s = fake_summary(variants=variants, oracle=oracle, evaluation=evaluation)
    s["reported"] = {v: r for v, r in paper_reported().items() if v in variants}
    counts = {"test": 30, "pool": 40, "pool/ood": 4}
    for v in variants[:2]:  # what manifest_counts gives for each synthetic set
        counts |= {f"{v}/train": 8, f"{v}/val": 2}
    n = numbers.numbers(s, prov, {"features": 1.0}, counts, "c")
    missing = _keys_in_main_tex() - set(n)
    assert not missing, f"main.tex quotes numbers the generator does not write: {sorted(missing)}"
    if "synthetic-500" in variants:
        assert n["text/published-abstract"] == r"the study reported 87.43\,\% and 91.62\,\% from a single run"
    else:
        assert "no values" in n["text/published-abstract"]


def paper_reported() -> dict:
    from synth2real.analysis.summary import REPORTED

    return REPORTED
