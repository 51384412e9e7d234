"""Planted bugs the tests must catch: `make mutants` (or `python -m tests.mutants [NAME ...]`).

Each mutant is one small edit of the package (a text that must occur exactly once, and
its replacement) and the tests expected to catch it. For each, the committed tree is
copied to a temporary folder, the edit applied there (never to the checkout), and the
named tests run against the copy; the mutant is *caught* when one of them fails. The
command prints a table (mutant, tests, caught by, seconds) and exits 1 when a mutant
survives or no longer applies (the code it edits changed: update the entry). Add an entry
for every number a change computes: the bug it would most plausibly have, and the test
that must see it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to the repository
    old: str  # occurs exactly once in `file`
    new: str
    tests: tuple[str, ...]  # pytest node ids; one of them must fail


MUTANTS = [
    Mutant("pseudo-labels read the pool's true labels", "src/synth2real/adapt/engine.py",
           "    idx, labels = select(probs, spec.pseudo_labels, candidates)\n",
           "    idx, labels = select(probs, spec.pseudo_labels, candidates)\n"
           "    labels = np.array([data.classes.index(t) if t in data.classes else 0\n"
           "                       for t in np.asarray(data.pool_true)[idx]], dtype=np.int64)\n",
           (("tests/unit/adapt/test_engine.py::test_the_pools_true_labels_move_no_model_and_no_"
            "pseudo_label"),)),
    Mutant("Table I prints the standard deviation in the mean's cell",
           "src/synth2real/report/results_table.py",
           "    return f\"{row[f'{split}_mean']:.2f} ± {row[f'{split}_std']:.2f}\"",
           "    return f\"{row[f'{split}_std']:.2f} ± {row[f'{split}_std']:.2f}\"",
           ("tests/unit/report/test_tables_readback.py",)),
    Mutant("a pseudo-label threshold of 1.5 is accepted", "src/synth2real/config/variants.py",
           '    kind: Literal["threshold"] = "threshold"\n    # null = pseudo_label.threshold.\n'
           "    threshold: float | None = Field(None, gt=0, lt=1)",
           '    kind: Literal["threshold"] = "threshold"\n    # null = pseudo_label.threshold.\n'
           "    threshold: float | None = Field(None, gt=0)",
           (("tests/unit/config/test_variants.py::test_every_setting_has_a_type_and_range_named_by"
            "_its_key"),)),
    Mutant("a pseudo-label threshold of 'high' is accepted", "src/synth2real/config/variants.py",
           '    kind: Literal["threshold"] = "threshold"\n    # null = pseudo_label.threshold.\n'
           "    threshold: float | None = Field(None, gt=0, lt=1)",
           '    kind: Literal["threshold"] = "threshold"\n    # null = pseudo_label.threshold.\n'
           "    threshold: Any = None",
           (("tests/unit/config/test_variants.py::test_every_setting_has_a_type_and_range_named_by"
            "_its_key"),)),
    Mutant("a mixing ratio of 1.5 is accepted", "src/synth2real/config/variants.py",
           "    ratio: int = Field(ge=1)", "    ratio: float = Field(ge=1)",
           (("tests/unit/config/test_variants.py::test_every_setting_has_a_type_and_range_named_by"
            "_its_key"),)),
    Mutant("the summary's test labels are shifted by one class", "src/synth2real/analysis/summary.py",
           '    y = class_indices([r["label"] for r in read_csv(real_test)], classes, real_test)',
           '    y = (class_indices([r["label"] for r in read_csv(real_test)], classes, real_test)'
           " + 1) % len(classes)",
           ("tests/unit/test_smk.py::test_evaluation_section_reaches_the_summary_written_from_files",)),
    Mutant("the export bakes a swapped mean and std", "src/synth2real/model/export.py",
           '                torch_backbone = load_backbone(info["path"])\n',
           '                torch_backbone = load_backbone(info["path"])\n'
           "                n = torch_backbone.normalize\n"
           "                n.mean, n.std = n.std.clone(), n.mean.clone()\n",
           ("tests/integration/test_export.py::test_export_reads_any_variants_checkpoint",)),
    Mutant("the deployed model is the test-best, not the criterion's pick",
           "src/synth2real/report/model_card.py",
           '"adapted": {"variant": selection["criteria"][criterion]["variant"],',
           '"adapted": {"variant": selection["test_best"]["variant"],',
           ("tests/unit/report/test_model_card.py::test_roles_accuracies_and_a_clear_gain",)),
    Mutant("model selection picks the worst score", "src/synth2real/analysis/model_selection.py",
           "    sign = 1.0 if higher_is_better else -1.0",
           "    sign = -1.0 if higher_is_better else 1.0",
           ("tests/unit/analysis/test_summary.py",)),
    Mutant("Adam steps a model that had no minibatch", "src/synth2real/model/stacked.py",
           "            opt.step([k for k, n in enumerate(batch.rows) if n])",
           "            opt.step(range(len(batch.rows)))",
           ("tests/unit/model/test_stacked.py::test_stacked_heads_equal_one_model_heads",)),
    Mutant("the models of a stack share one dropout stream", "src/synth2real/model/stacked.py",
           "                np.greater_equal(stream.raw(rows * dim).reshape(rows, dim), level,",
           "                np.greater_equal(self.streams[0].raw(rows * dim).reshape(rows, dim), "
           "level,",
           (("tests/unit/model/test_stacked.py::test_dropout_masks_do_not_depend_on_the_other_"
            "models_of_the_stack"),)),
    Mutant("a model another variant trains is trained again", "src/synth2real/config/__init__.py",
           "        fit = self.trained[name].fit()\n        return next(",
           "        return name\n        fit = self.trained[name].fit()\n        return next(",
           ("tests/unit/config/test_variants.py::test_each_distinct_model_is_trained_once",)),
    Mutant("a feature cache of another kind is accepted", "src/synth2real/data/imagesets.py",
           "        if (cache.imageset, cache.kind) != (self.name, kind):",
           "        if False:",
           ("tests/unit/data/test_imagesets.py",)),
    Mutant("labels become the next class's index", "src/synth2real/data/imagesets.py",
           "    return np.array([index[lab] for lab in labels], dtype=np.int64)",
           "    return np.array([(index[lab] + 1) % len(classes) for lab in labels], dtype=np.int64)",
           ("tests/unit/data/test_imagesets.py",)),
    Mutant("self-training keeps the round of the highest pool entropy", "src/synth2real/adapt/engine.py",
           '    "pool_entropy": lambda r: r["pool_entropy"],',
           '    "pool_entropy": lambda r: -r["pool_entropy"],',
           (("tests/unit/adapt/test_engine.py::test_self_training_keeps_the_round_its_criterion_"
            "prefers"),)),
    Mutant("out-of-domain rejection drops the most in-domain images",
           "src/synth2real/adapt/pseudo_labels.py",
           '    return np.sort(np.argsort(s, kind="stable")[:n_keep])',
           '    return np.sort(np.argsort(-s, kind="stable")[:n_keep])',
           ("tests/unit/adapt/test_pseudo_labels.py",)),
    Mutant("the oracle trains on the target-validation photos", "src/synth2real/adapt/engine.py",
           '    oracle_rows = [r for r in labeled if r["split"] == "oracle"]',
           '    oracle_rows = [r for r in labeled if r["split"] == "val"]',
           ("tests/unit/adapt/test_engine.py::test_a_job_writes_every_models_files_and_scores",)),
    Mutant("budget draws read the target-validation photos", "src/synth2real/data/budgets.py",
           '        if r["split"] == "oracle":',
           '        if r["split"] in ("oracle", "val"):',
           ("tests/unit/adapt/test_budget_engine.py",)),
    Mutant("a smaller budget is not a prefix of a larger one", "src/synth2real/data/budgets.py",
           "            chosen = chosen[:per_class]",
           "            chosen = chosen[-per_class:]",
           ("tests/unit/adapt/test_budget_engine.py",)),
    Mutant("bridged transfer starts from fresh weights", "src/synth2real/model/stacked.py",
           "    nets = [copy.deepcopy(i) if i is not None else n",
           "    nets = [n if i is not None else n",
           ("tests/unit/adapt/test_budget_engine.py",)),
    Mutant("mixing runs short of a few photos", "src/synth2real/adapt/mixing.py",
           "        return np.concatenate([stream.permutation(n_real) for _ in range(-(-n_r // n_real))])",
           "        return stream.permutation(n_real)",
           ("tests/unit/adapt/test_budget_engine.py",)),
    Mutant("the block trains at the head's rate", "src/synth2real/adapt/engine.py",
           '                       lr_scale=(("block.", part.lr_scale),))',
           '                       lr_scale=())',
           ("tests/unit/adapt/test_budget_engine.py",)),
    Mutant("the labeled-photos crossing interpolates on a linear axis",
           "src/synth2real/analysis/budgets.py",
           "        out[rows] = np.exp(x[hi - 1] + t * (x[hi] - x[hi - 1]))",
           "        out[rows] = np.exp(x[hi - 1]) + t * (np.exp(x[hi]) - np.exp(x[hi - 1]))",
           ("tests/unit/analysis/test_budgets.py",)),
    Mutant("a budget claim reads only its first budget", "src/synth2real/analysis/budgets.py",
           "            C = np.mean([curves[m][b] for b in c.per_class], axis=0)",
           "            C = np.mean([curves[m][b] for b in c.per_class[:1]], axis=0)",
           ("tests/unit/analysis/test_budgets.py",)),
    Mutant("the crossing's interval is censored on the wrong side",
           "src/synth2real/analysis/budgets.py",
           '        "ci95": [None if below > tail else lo, None if beyond > tail else hi],',
           '        "ci95": [None if beyond > tail else lo, None if below > tail else hi],',
           ("tests/unit/analysis/test_budgets.py",)),
    Mutant("the crossing's reference is resampled apart from the curve",
           "src/synth2real/analysis/budgets.py",
           "    bx, bcode = crossing(photos, boot_curve, bootstrap.accuracy(reference, rs))",
           "    bx, bcode = crossing(photos, boot_curve, bootstrap.accuracy(reference, "
           "bootstrap.draw(*rs.shape, Bootstrap(seed=1, resamples=len(rs.U)))))",
           ("tests/unit/analysis/test_budgets.py",)),
    Mutant("the budget figure places budgets at their index, not their photos",
           "src/synth2real/report/figures/budgets.py",
           "    x = np.array([photos[str(b)] for b in per_class], dtype=float)",
           "    x = np.arange(1.0, len(per_class) + 1)",
           ("tests/unit/report/test_budgets_report.py",)),
    Mutant("the budget table prints the seed interval as the bootstrap's",
           "src/synth2real/report/budgets_table.py",
           '            "ci": cells.interval(cells.bootstrap_ci(stat))}',
           '            "ci": cells.interval(stat.get("ci95"))}',
           ("tests/unit/report/test_budgets_report.py",)),
    Mutant("the model card counts the oracle photos as read for the choice",
           "src/synth2real/report/model_card.py",
           '    return sum(1 for r in read_csv(target_labeled) if r["split"] == "val")',
           '    return sum(1 for r in read_csv(target_labeled) if r["split"] != "test")',
           ("tests/unit/report/test_model_card.py",)),
    Mutant("EM stops after one round (the naive mean prediction)", "src/synth2real/adapt/prior.py",
           "        if np.abs(new - prior).max() < tol:\n",
           "        if True:\n",
           ("tests/unit/adapt/test_prior.py::test_em_recovers_a_synthetic_label_shift",)),
    Mutant("the label-shift correction is folded in with the wrong sign",
           "src/synth2real/adapt/prior.py",
           "    return np.log(np.maximum(target_prior, floor)) - np.log(source_prior)",
           "    return np.log(source_prior) - np.log(np.maximum(target_prior, floor))",
           (("tests/unit/adapt/test_prior.py::test_the_correction_is_the_bayes_rule_folded_into_"
            "the_bias"),)),
    Mutant("BBSE's joint frequencies are transposed", "src/synth2real/adapt/prior.py",
           "    np.add.at(joint, (val_probs.argmax(1), val_y), 1.0)",
           "    np.add.at(joint, (val_y, val_probs.argmax(1)), 1.0)",
           ("tests/unit/adapt/test_prior.py::test_bbse_recovers_a_synthetic_label_shift",)),
    Mutant("SHOT's centroids ignore the predictions' weights (argmax only)",
           "src/synth2real/adapt/shot.py",
           "    weights = probs.to(f.dtype)\n",
           "    weights = F.one_hot(probs.argmax(1), probs.shape[1]).to(f.dtype)\n",
           ("tests/unit/adapt/test_shot.py",)),
    Mutant("SHOT's stage 2 trains the source classifier", "src/synth2real/adapt/shot.py",
           "                       lr_scale=((frozen, 0.0), *source.schedule.lr_scale))",
           "                       lr_scale=((frozen, 1.0), *source.schedule.lr_scale))",
           (("tests/unit/adapt/test_shot.py::test_stage_two_freezes_the_classifier_and_moves_the_"
            "bottleneck"),)),
    Mutant("an ensemble averages logits, not probabilities", "src/synth2real/model/head.py",
           "        logp = torch.stack([torch.log_softmax(m(f), -1) for m in self.members])",
           "        logp = torch.stack([m(f) for m in self.members])",
           (("tests/unit/model/test_head.py::test_an_ensemble_averages_its_members_softmax_and_"
            "carries_its_shift"),)),
    Mutant("EnsV averages every model, not the candidates", "src/synth2real/model/criteria.py",
           "    pseudo = np.mean([pool_probs[m] for m in (members or list(pool_probs))], 0).argmax(1)",
           "    pseudo = np.mean(list(pool_probs.values()), 0).argmax(1)",
           (("tests/unit/model/test_criteria.py::test_ensv_scores_agreement_with_the_candidates_"
            "average"),)),
    Mutant("MixVal mixes each image with itself", "src/synth2real/model/criteria.py",
           "    perm = np.random.default_rng(seed).permutation(len(X))",
           "    perm = np.arange(len(X))",
           ("tests/unit/model/test_criteria.py",)),
    Mutant("DEV's density ratio is inverted", "src/synth2real/analysis/domain.py",
           "    return len(S) / len(T) * np.exp(z)",
           "    return len(S) / len(T) * np.exp(-z)",
           ("tests/unit/adapt/test_prior.py::test_density_ratio_is_higher_where_the_pool_is",)),
    Mutant("the deployed-choice claim reads the test-best, not the pick",
           "src/synth2real/analysis/model_selection.py",
           "    pick = selection[\"criteria\"][selection[\"deploy_criterion\"]]",
           "    pick = max(selection[\"criteria\"].values(), key=lambda c: c[\"test_acc\"][\"mean\"])",
           (("tests/unit/analysis/test_summary.py::test_the_deployed_choice_claim_follows_the_"
            "deploy_criterion_not_the_test_best"),)),
    Mutant("FDA keeps the target's phase", "src/synth2real/adapt/pixel/fda.py",
           "    out = np.fft.ifft2(amplitude * np.exp(1j * np.angle(fs)), axes=(-3, -2))",
           "    out = np.fft.ifft2(amplitude * np.exp(1j * np.angle(ft)), axes=(-3, -2))",
           ("tests/unit/adapt/test_fda.py",)),
    Mutant("FDA's window one frequency wider (|k| <= b)", "src/synth2real/adapt/pixel/fda.py",
           "    return (ky[:, None] < b) & (kx[None, :] < b)",
           "    return (ky[:, None] <= b) & (kx[None, :] <= b)",
           ("tests/unit/adapt/test_fda.py",)),
    Mutant("CycleGAN's generator aims at 'fake' (LSGAN target 0)",
           "src/synth2real/adapt/pixel/gan.py",
           "        gan_ab = F.mse_loss(pred_b, torch.ones_like(pred_b))",
           "        gan_ab = F.mse_loss(pred_b, torch.zeros_like(pred_b))",
           (("tests/unit/adapt/test_gan.py::test_cyclegan_adversarial_loss_moves_the_colours_to_"
             "the_target"),)),
    Mutant("a resumed SimGAN forgets its history buffer", "src/synth2real/adapt/pixel/gan.py",
           '        self.history.load_state_dict(state["history"], self.device)\n', "",
           ("tests/unit/adapt/test_gan.py::test_an_interrupted_run_resumes_bit_identically",)),
    Mutant("refined features cached under the refined files' paths",
           "src/synth2real/adapt/pixel/refine.py",
           '    save_features(npz, feats, [r["path"] for r in rows], "source", part)',
           '    save_features(npz, feats, [r["refined"] for r in rows], "source", part)',
           (("tests/integration/test_workflow_tiny.py::test_tiny_run_refines_every_source_image_"
             "with_each_pixel_part"),)),
    Mutant("a refined variant's claim compares it with itself", "src/synth2real/config/__init__.py",
           "                out.append(Claim(id=f\"refined-{slug}\", a=name, b=plain,",
           "                out.append(Claim(id=f\"refined-{slug}\", a=name, b=name,",
           ("tests/unit/config/test_variants.py",)),
]


def copy_tree(dest: Path) -> None:
    """The committed files of the checkout (and the working tree's versions of them)."""
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    for f in files:
        src = REPO / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)


def run(m: Mutant, timeout: float) -> tuple[str, str, float]:
    """(status, the first failing test or the reason, seconds) of one mutant."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        root = Path(tmp)
        copy_tree(root)
        path = root / m.file
        text = path.read_text()
        if text.count(m.old) != 1:
            return "STALE", f"the edited text occurs {text.count(m.old)} times in {m.file}", 0.0
        path.write_text(text.replace(m.old, m.new))
        env = {**os.environ, "PYTHONPATH": str(root / "src"),
               "BUNDLE": os.environ.get("BUNDLE", str(REPO.parent / "shared" / "bundle"))}
        try:
            proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                   *m.tests], cwd=root, env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return "caught", "the tests timed out", time.perf_counter() - t0
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, flags=re.MULTILINE)
        seconds = time.perf_counter() - t0
        if proc.returncode == 0:
            return "SURVIVED", "every named test passed", seconds
        if not failed:  # pytest itself failed: the mutant breaks collection or import
            return "caught", f"pytest exit {proc.returncode} ({proc.stdout.strip()[-120:]!r})", seconds
        return "caught", failed[0], seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="substrings of the mutants to run (default: all)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per mutant")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.names or any(n in m.name for n in args.names)]
    if args.list:
        for m in chosen:
            print(f"{m.name}  [{m.file}]  -> {', '.join(m.tests)}")
        return 0
    bad = 0
    print("| planted bug | caught by | s |\n|---|---|---|")
    for m in chosen:
        status, detail, seconds = run(m, args.timeout)
        bad += status != "caught"
        shown = detail if status == "caught" else f"**{status}**: {detail}"
        print(f"| {m.name} | {shown} | {seconds:.0f} |", flush=True)
    print(f"\n{len(chosen) - bad} of {len(chosen)} planted bugs caught")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
