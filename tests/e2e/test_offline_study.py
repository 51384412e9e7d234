"""End to end: the README's offline command on the full bundle,
`make reproduce CONFIG=config/offline.yaml BUNDLE=<bundle>` (into a temporary RUN_DIR)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from synth2real.config import load_file
from tests.conftest import REPO, run_make
from tests.e2e import readback, reference

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def offline_run(bundle, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("offline-run")
    run_make("reproduce", "CONFIG=config/offline.yaml", f"BUNDLE={bundle}", f"RUN_DIR={workdir}", "CORES=2")
    return workdir


def finite_fraction(x) -> bool:
    return isinstance(x, float) and math.isfinite(x) and 0.0 <= x <= 1.0


def test_summary_has_every_variant_with_finite_numbers(offline_run):
    s = json.loads((offline_run / "results" / "summary.json").read_text())
    assert s["offline"] is True and s["seeds"] == [0, 1, 2, 3, 4]
    assert {"synthetic-500", "synthetic-1000", "pseudo-label"} <= set(s["variants"])
    for name, v in s["variants"].items():
        for split in ("train_acc", "val_acc", "test_acc"):
            assert finite_fraction(v[split]["mean"]), (name, split)
            assert math.isfinite(v[split]["std"])
            assert len(v[split]["per_seed"]) == 5
        assert sum(map(sum, v["confusion"]["total"])) == 5 * 3 * 1000
    d = s["variants"]["pseudo-label"]["pseudo_label"]
    assert 0 < d["accepted"]["mean"] <= 3000
    assert finite_fraction(d["pseudo_label_acc"]["mean"])
    assert finite_fraction(d["ood_accepted_share"]["mean"])
    # Above chance on real photos: the pipeline learned something transferable.
    assert s["variants"]["synthetic-1000"]["test_acc"]["mean"] > 0.45


def test_every_method_variant_with_intervals_and_paired_gains(offline_run, bundle):
    s = json.loads((offline_run / "results" / "summary.json").read_text())
    expected = load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle)}).variants
    assert list(s["variants"]) == list(expected) and len(expected) >= 20
    for name, v in s["variants"].items():
        lo, hi = v["test_acc"]["ci95"]
        assert math.isfinite(lo) and lo <= v["test_acc"]["mean"] <= hi, name
        if name not in s["core_variants"] and name != s["oracle"]:
            assert 0.0 <= v["proxy_a_distance"]["mean"] <= 2.0, name
            assert v["method"]["description"], name
    comps = {(c["a"], c["b"]): c for c in s["comparisons"]}
    for name in expected:
        if name not in s["core_variants"] and name != s["oracle"]:
            for other in ("synthetic-1000", "pseudo-label"):
                c = comps[(name, other)]
                assert c["n"] == 5 and math.isfinite(c["mean"]) and len(c["ci95"]) == 2
    assert ("synthetic-1000", "synthetic-500") in comps
    ood = s["variants"]["ood-energy"]["pseudo_label"]
    assert ood["ood_accepted"]["mean"] <= ood["ood_accepted_without_rejection"]["mean"]
    for q in ("methods.md", "methods.tex", "methods.csv"):
        assert "align+pl" in (offline_run / "paper/tables" / q).read_text()
    for fig in ("all_methods", "threshold_sweep", "domain_gap"):
        assert (offline_run / f"paper/figures/{fig}.png").stat().st_size > 10_000


def test_oracle_gap_closure_selection_and_verdicts(offline_run):
    s = json.loads((offline_run / "results" / "summary.json").read_text())
    v = s["variants"]
    # Labeled target photos on the same frozen features: far above every synthetic model.
    assert v["oracle"]["test_acc"]["mean"] > max(v[c]["test_acc"]["mean"] for c in s["model_selection"]["candidates"])
    assert s["gap_closure"]["align+dann"]["mean"] > 0.2
    for name, g in s["gap_closure"].items():
        lo, hi = g["ci95"]
        assert lo <= g["mean"] <= hi, name
    for name, x in v.items():
        boot, seed = x["test_acc"]["bootstrap"]["ci95"], x["test_acc"]["ci95"]
        assert boot[0] <= x["test_acc"]["mean"] <= boot[1], name
        # 3000 test photos: where the seeds agree within a point, the test sample's noise makes
        # the bootstrap interval the wider one. (A method whose seeds spread further -- SHOT's
        # pool-only stage, std 1.8 points -- can have the wider Student-t interval over 5 seeds.)
        if x["test_acc"]["std"] < 0.01:
            assert boot[1] - boot[0] > seed[1] - seed[0], name
    sel = s["model_selection"]
    deployed = sel["criteria"][sel["deploy_criterion"]]
    assert deployed["variant"] in sel["candidates"] and deployed["regret"]["mean"] >= 0
    assert {c["verdict"] for c in s["claims"]} <= {"reproduced", "not reproduced", "inconclusive"}


def test_label_free_parts_for_deployment_and_their_choice(offline_run):
    """SHOT, the label-shift corrections, block adaptation and ensembles ran, every criterion
    scored them, and the deployed-choice claim reads the deploy criterion's pick."""
    s = json.loads((offline_run / "results" / "summary.json").read_text())
    v, sel = s["variants"], s["model_selection"]
    assert sel["deploy_criterion"] == "ensv" and len(sel["candidates"]) == 20
    assert {"ensv", "mixval", "dev"} <= set(sel["criteria"])
    for name in ("shot", "align+shot", "block+im", "ens-align", "ens-seeds-align+shot",
                 "mrgan+im"):
        assert set(v[name]["criteria"]) >= {"ensv", "mixval", "dev", "snd"}, name
    for name, kind in (("align+shot+em", "em"), ("align+shot+bbse", "bbse"), ("ens-align+em", "em")):
        prior = v[name]["prior"]
        assert prior["kind"] == kind and sum(prior["estimated"]) == pytest.approx(1), name
    # The seed ensemble is one model: every seed scores the same.
    assert len(set(v["ens-seeds-align+shot"]["test_acc"]["per_seed"].values())) == 1
    claim = {c["id"]: c for c in s["claims"]}["deployed-choice"]
    assert claim["a"] == sel["criteria"]["ensv"]["variant"]
    closure = s["gap_closure"][claim["a"]]
    assert claim["effect"]["mean"] == pytest.approx(closure["mean"] - 0.7)


def test_tables_and_figures_from_this_run(offline_run):
    md = (offline_run / "paper/tables/results.md").read_text()
    s = json.loads((offline_run / "results" / "summary.json").read_text())
    mean = 100 * s["variants"]["pseudo-label"]["test_acc"]["mean"]
    assert f"{mean:.2f}" in md and "91.62" in md  # this run beside the published number
    for fig in ("accuracy_bars", "confusion_matrices"):
        assert (offline_run / f"paper/figures/{fig}.png").stat().st_size > 10_000


def test_features_computed_once_per_image_set_and_kind(offline_run):
    root = offline_run / "results/features"
    stats = {str(p.relative_to(root)).removesuffix(".stats.json"): json.loads(p.read_text())
             for p in root.glob("*/*.stats.json")}
    # target_labeled: the labeled target photos (target-validation split and the oracle's).
    assert set(stats) == {"plain/source", "plain/real_test", "plain/pool", "plain/target_labeled",
                          "aligned/source", *(f"{p}/source" for p in PIXEL_PARTS)}
    assert stats["aligned/source"]["target_side"] == 32 and stats["aligned/source"]["images"] == 3000
    assert stats["plain/source"]["images"] == 3000  # CIFAR-10 is 32 px
    for st in stats.values():
        assert st["engine"] == "onnxruntime" and st["parity_max_abs_diff"] <= 1e-4
    adabn = json.loads((root / "adabn/stats.json").read_text())
    assert {"pool", "real_test", "target_labeled"} <= set(adabn)


def test_paper_and_deployable_models(offline_run):
    """What the README promises the offline command ends with."""
    assert (offline_run / "paper" / "main.pdf").read_bytes()[:5] == b"%PDF-"
    models = offline_run / "models"
    parity = json.loads((models / "parity.json").read_text())
    card = json.loads((models / "card.json").read_text())
    summary = json.loads((offline_run / "results" / "summary.json").read_text())
    sel = summary["model_selection"]
    assert parity["passed"]
    # adapted = what the label-free deploy criterion picked (never the test-best by fiat).
    assert card["models"]["adapted"]["variant"] == sel["criteria"][sel["deploy_criterion"]]["variant"]
    assert card["models"]["study"]["variant"] == "pseudo-label"
    assert card["models"]["baseline"]["variant"] == "synthetic-1000"
    seed = parity["seed"]
    readme = (models / "README.md").read_text()
    for role in ("baseline", "study", "adapted"):
        assert (models / f"{role}.onnx").stat().st_size > 1_000_000
        m = card["models"][role]
        metrics = json.loads((offline_run / "results/heads" / m["variant"] / f"seed{seed}"
                              / "metrics.json").read_text())
        # The card's accuracy is the ONNX file's, which parity ties to the trained head's.
        assert m["test_accuracy"] == pytest.approx(metrics["test"]["acc"], abs=1e-9)
        assert m["test_accuracy"] == pytest.approx(parity["models"][role]["onnx_test_acc"], abs=1e-9)
        lo, hi = m["test_accuracy_ci"]
        assert lo < m["test_accuracy"] < hi and hi - lo < 0.06  # 3000 images: about ±1.7 points
        assert f"{100 * m['test_accuracy']:.2f}" in readme
    d = card["differences"]["adapted"]
    assert d["diff"] == pytest.approx(card["models"]["adapted"]["test_accuracy"]
                                      - card["models"]["baseline"]["test_accuracy"], abs=1e-9)
    assert card["adaptation_helps"] == (d["ci"][0] > 0)


def test_every_variant_and_seed_matches_the_committed_reference(offline_run):
    """Per variant and seed, real-test accuracy within reference.TOLERANCE_IMAGES test images
    of tests/e2e/reference.json; same variants, same seeds. A change meant to move numbers
    regenerates the reference (README, "Tests") and shows up as its diff."""
    s = reference.with_budget_track(
        json.loads((offline_run / "results" / "summary.json").read_text()), offline_run / "results")
    problems = reference.compare(reference.load(), s)
    assert not problems, ("real-test accuracy differs from tests/e2e/reference.json "
                          f"({len(problems)}):\n" + "\n".join(problems))


def test_budget_track_every_method_and_budget_with_its_references(offline_run, bundle):
    """results/budgets.json: every method of the offline config at every budget, five seeds,
    intervals around the means; more photos never cost the photos alone much (nested draws);
    the track's references are the summary's own models; every claim has a verdict."""
    cfg = load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle)})
    b = json.loads((offline_run / "results" / "budgets.json").read_text())
    s = json.loads((offline_run / "results" / "summary.json").read_text())
    assert list(b["methods"]) == list(cfg.budgets.methods) and b["seeds"] == [0, 1, 2, 3, 4]
    for name, m in b["methods"].items():
        assert [str(k) for k in m["budgets"]] == [str(k) for k in b["per_class"]], name
        for budget, x in m["budgets"].items():
            acc = x["test_acc"]
            assert len(acc["per_seed"]) == 5 and finite_fraction(acc["mean"]), (name, budget)
            lo, hi = acc["bootstrap"]["ci95"]
            assert lo <= acc["bootstrap"]["mean"] <= hi, (name, budget)
    curve = [x["test_acc"]["mean"] for x in b["methods"][b["real_only"]]["budgets"].values()]
    assert curve[-1] - curve[0] > 0.2 and all(b2 > a - 0.01 for a, b2 in itertools.pairwise(curve))
    for role, variant in (("source_only", "synthetic-1000"), ("oracle", "oracle")):
        ref = b["references"][role]
        assert ref["variant"] == variant
        assert ref["test_acc"]["mean"] == pytest.approx(s["variants"][variant]["test_acc"]["mean"])
    sel = s["model_selection"]
    assert b["references"]["zero_label"]["variant"] == sel["criteria"][sel["deploy_criterion"]]["variant"]
    assert {c["verdict"] for c in b["claims"]} <= {"reproduced", "not reproduced", "inconclusive"}
    assert len(b["claims"]) == 5


@pytest.mark.parametrize("check", ["results", "methods", "claims", "model_selection", "budgets",
                                   "pdf"])
def test_tables_and_pdf_read_back_to_the_summary(offline_run, check):
    """Every cell of Table I and of the methods, claims and selection tables equals its
    source in summary.json; the PDF's text has the offline notice, Table I, every
    variant's test accuracy and each claim's verdict."""
    problems = readback.CHECKS[check](offline_run)
    assert not problems, "\n".join(problems)


PIXEL_PARTS = ("fda", "simgan", "cyclegan", "mrgan")


def test_pixel_parts_refine_every_source_image_and_are_judged(offline_run):
    """Every pixel part wrote one refined 32 px image per source image, each GAN trained its
    whole schedule, every refined variant scored, and the pixel claims have verdicts."""
    from PIL import Image

    from synth2real.data.manifests import read_csv

    s = json.loads((offline_run / "results" / "summary.json").read_text())
    source = [r["path"] for r in read_csv(offline_run / "results/data/source.csv")]
    for part in PIXEL_PARTS:
        root = offline_run / "results/pixel" / part
        rows = read_csv(root / "refined.csv")
        assert [r["path"] for r in rows] == source, part
        with Image.open(offline_run / rows[0]["refined"]) as im:
            assert im.size == (32, 32)
        stats = json.loads((root / "stats.json").read_text())
        assert stats["images"] == 3000 and stats["side"] == 32
        assert 0 < stats["mean_abs_change"] < 0.5, part  # changed, but still the same image
        if part != "fda":
            run = stats["training"]
            assert run["finished"] and run["steps"]["done"] == run["steps"]["planned"]
            assert not (root / "resume.pt").exists()
        for v in (part, f"{part}+im"):
            assert finite_fraction(s["variants"][v]["test_acc"]["mean"]), v
    claims = {c["id"]: c for c in s["claims"]}
    for cid in ("refined-fda", "refined-mrgan-im", "two-stages-mrgan"):
        assert claims[cid]["verdict"] in ("reproduced", "not reproduced", "inconclusive")
    z = np.load(offline_run / "results/domain/tsne.npz")
    labels = [str(x) for x in z["labels"]]
    assert "MrGAN-refined source" in labels and all(
        np.isfinite(z[f"frechet_{i}"]) for i in range(len(labels)))
