"""The offline study's committed reference (tests/e2e/reference.json) and its generator:
well-formed, covering every variant and seed of config/offline.yaml, rewritten byte for
byte from a summary, and compared so that every wrong number is named."""

from __future__ import annotations

import copy
import json

import pytest

from synth2real.config import load_file
from tests.conftest import REPO
from tests.e2e import reference

N = 100  # test images per seed of the synthetic summary: one image = 0.01


def _variant(matrices: dict[str, list[list[int]]]) -> dict:
    acc = {s: sum(m[i][i] for i in range(len(m))) / sum(map(sum, m)) for s, m in matrices.items()}
    return {"test_acc": {"per_seed": acc}, "confusion": {"per_seed": matrices}}


def synthetic_summary() -> dict:
    """Two variants, two seeds, two classes, 100 test images per seed."""
    return {"study": "tiny", "classes": ["dog", "cat"], "seeds": [0, 1],
            "git_commit": "abc", "config_hash": "h",
            "variants": {"a": _variant({"0": [[40, 10], [5, 45]], "1": [[42, 8], [6, 44]]}),
                         "b": _variant({"0": [[45, 5], [5, 45]], "1": [[47, 3], [4, 46]]})}}


def swap_true_labels(summary: dict, variant: str) -> dict:
    """`summary` with `variant`'s two class labels exchanged (confusion rows swapped, every
    seed's accuracy recomputed), as a label-order bug in the metric would leave it."""
    out = copy.deepcopy(summary)
    matrices = summary["variants"][variant]["confusion"]["per_seed"]
    out["variants"][variant] = _variant({s: m[::-1] for s, m in matrices.items()})
    return out


def test_committed_reference_covers_every_variant_and_seed(tmp_path):
    cfg = load_file(REPO / "config" / "offline.yaml", {"bundle": str(tmp_path)})
    ref = reference.load()
    # The study's variants and the budget track's (every method at every budget).
    assert sorted(ref["variants"]) == sorted([*cfg.variants, *cfg.budgets.variants()])
    assert len(cfg.variants) >= 30 and len(cfg.budgets.variants()) >= 40
    assert (ref["study"], ref["classes"], ref["seeds"]) == (cfg.name, cfg.classes, cfg.seeds)
    n = cfg.real.test_per_class * len(cfg.classes)
    for name, seeds in ref["variants"].items():
        assert list(seeds) == [str(s) for s in cfg.seeds], name
        for seed, e in seeds.items():
            assert set(e) == {"correct", "n", "test_acc"}, (name, seed)
            assert e["n"] == n and 0 <= e["correct"] <= n, (name, seed)
            assert e["test_acc"] == round(e["correct"] / n, reference.DECIMALS), (name, seed)


def test_committed_text_is_the_generators_own_output():
    text = reference.REFERENCE.read_text()
    assert reference.dumps(json.loads(text)) == text


def test_generator_round_trip_is_deterministic(tmp_path):
    s = synthetic_summary()
    (tmp_path / "summary.json").write_text(json.dumps(s))
    outs = [tmp_path / "one.json", tmp_path / "two.json"]
    for out in outs:
        assert reference.main([str(tmp_path / "summary.json"), "--out", str(out)]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()
    ref = reference.load(outs[0])
    assert ref["variants"]["a"]["0"] == {"correct": 85, "n": N, "test_acc": 0.85}
    assert ref["generated_from"] == {"git_commit": "abc", "config_hash": "h"}
    assert reference.compare(ref, s) == []


def test_comparison_names_every_number_off_by_more_than_the_tolerance():
    s = synthetic_summary()
    ref = reference.reference(s)
    moved = copy.deepcopy(s)
    moved["variants"]["a"]["test_acc"]["per_seed"]["1"] += 3 / N
    moved["variants"]["b"]["test_acc"]["per_seed"]["0"] -= 3 / N
    problems = reference.compare(ref, moved)
    assert len(problems) == 2
    assert problems[0].startswith("a seed 1: expected 0.860000 (86/100), got 0.890000")
    assert problems[1].startswith("b seed 0: expected 0.900000 (90/100), got 0.870000")
    within = copy.deepcopy(s)
    within["variants"]["a"]["test_acc"]["per_seed"]["1"] += reference.TOLERANCE_IMAGES / N
    msg = "a seed 1: test_acc 0.880000 is not its confusion matrix's 86/100"
    assert reference.compare(ref, within) == [msg]


def test_comparison_catches_a_label_swap_and_a_changed_variant_set():
    s = synthetic_summary()
    ref = reference.reference(s)
    problems = reference.compare(ref, swap_true_labels(s, "b"))
    assert [p.split(":")[0] for p in problems] == ["b seed 0", "b seed 1"]
    other = copy.deepcopy(s)
    other["variants"]["c"] = other["variants"].pop("b")
    other["seeds"] = [0, 1, 2]
    assert reference.compare(ref, other) == [
        "seeds: expected [0, 1], got [0, 1, 2]", "b: in the reference, missing from the run",
        "c: in the run, missing from the reference"]


def test_a_summary_whose_accuracy_disagrees_with_its_confusion_is_no_reference():
    s = synthetic_summary()
    s["variants"]["a"]["test_acc"]["per_seed"]["0"] = 0.5
    with pytest.raises(ValueError, match="a seed 0: test_acc 0.5 is not its confusion"):
        reference.reference(s)


def test_the_pdf_read_back_tool_is_a_listed_system_package():
    """The e2e test reads the paper with pdftotext: poppler-utils stays in the project group."""
    rows = [ln.split() for ln in (REPO / "system-packages.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    assert ["poppler-utils", "project"] in [r[:2] for r in rows]
