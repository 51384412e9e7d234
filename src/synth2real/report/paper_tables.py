"""The paper's small generated tables: published vs reproduced, the setup, the run times.

- `reported_vs_reproduced.tex`: published accuracy beside this run's mean ± std
  and the difference, per variant that has a published value;
- `setup.tex`: the experimental settings from the resolved config;
- `runtimes.tex`: wall time per stage from Snakemake benchmark files.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from synth2real.report.cells import SPLITS
from synth2real.report.text import hms, pct, signed, tex, tt

SPLIT_LABEL = {"train": "synthetic train", "val": "synthetic val", "test": "real test"}
# Pipeline stages in run order, with the words the paper uses for them.
STAGE_LABEL = {
    "generate": "synthetic image generation",
    "data": "manifests (splits, test set, pool)",
    "backbone": "backbone export + parity check",
    "features": "backbone features (all image sets)",
    "train": "source-only heads (all sizes and seeds, with the oracle)",
    "adapt": "pseudo-labels and adapted heads (all seeds, every threshold variant)",
    "budgets": "labeled-budget track (every method, budget and seed; job time, summed)",
}


def read_benchmark(path: str | Path) -> float:
    """Wall seconds of one Snakemake `benchmark:` file (mean over its repeats)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise ValueError(f"{path} is not a Snakemake benchmark file (no 's' column)")
    return sum(float(r["s"]) for r in rows) / len(rows)


def stage_seconds(benchmarks: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """stage -> summed wall seconds of its jobs (`benchmarks`: stage -> benchmark files)."""
    return {stage: sum(read_benchmark(p) for p in files)
            for stage, files in benchmarks.items() if files}


def reported_vs_reproduced_tex(summary: Mapping[str, Any]) -> str:
    """Published accuracy, this run's mean ± std, and the difference, per variant and split."""
    lines = [
        r"\begin{tabular}{llccc}",
        r"\toprule",
        r"variant & split & published & this run (mean $\pm$ std) & difference (pp) \\",
        r"\midrule",
    ]
    compared = [v for v in summary["variants"] if v in summary["reported"]]
    for i, v in enumerate(compared):
        s, rep = summary["variants"][v], summary["reported"][v]
        splits = [sp for sp in SPLITS if f"{sp}_acc" in rep]
        for j, sp in enumerate(splits):
            a = s[f"{sp}_acc"]
            first = f"\\multirow{{{len(splits)}}}{{*}}{{{tt(v)}}}" if j == 0 else ""
            lines.append(f"{first} & {SPLIT_LABEL[sp]} & {pct(rep[f'{sp}_acc'])} & "
                         f"${pct(a['mean'])} \\pm {pct(a['std'])}$ & "
                         f"{signed(a['mean'] - rep[f'{sp}_acc'])} \\\\")
        if i < len(compared) - 1:
            lines.append(r"\addlinespace")
    if not compared:
        lines.append(r"\multicolumn{5}{c}{no variant of this run has a published value} \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def setup_rows(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(setting, value) pairs of the experimental setup, straight from the resolved config."""
    syn, real, bb, tr = cfg["synthetic"], cfg["real"], cfg["backbone"], cfg["train"]
    src = syn["source"]
    rows = [("classes", ", ".join(cfg["classes"]))]
    if src["kind"] == "diffusers":
        rows += [
            ("generator", f"{src['model_id']} @ {src['revision']}"),
            ("prompt", src["prompt_template"]),
            ("sampler", f"{src['scheduler']}, {src['steps']} steps, guidance {src['guidance_scale']:g}"),
            ("generated image side", f"{src['resolution']} px"),
        ]
    else:
        rows.append(("source images", f"folder {Path(src['root']).name}/"))
    rows += [
        ("source set sizes (per class)", ", ".join(map(str, syn["sizes"])) + " (nested)"),
        ("train / val split", f"{100 * (1 - syn['val_fraction']):g} / {100 * syn['val_fraction']:g} %"),
        ("real photos", real["source"]["kind"] if real["source"]["kind"] != "folder"
         else f"folder {Path(real['source']['root']).name}/"),
        ("real test set (per class)", str(real["test_per_class"])),
        ("unlabelled pool", f"{real['pool_size']} images, {100 * real['ood_fraction']:g} % out-of-domain"),
        ("backbone", f"{bb['arch']}, ImageNet weights ({bb['weights']['kind']}), frozen"),
        ("input side", f"{bb['image_size']} px"),
        ("feature engine", cfg["features"]["engine"]),
        ("head", f"dropout {tr['dropout']:g} + linear"),
        ("optimiser", f"{tr['optimizer']}, lr {tr['lr']:g}, batch {tr['batch_size']}"),
        ("schedule", f"StepLR step {tr['step_size']}, gamma {tr['gamma']:g}, {tr['epochs']} epochs"),
        ("pseudo-label threshold", f"confidence > {cfg['pseudo_label']['threshold']:g}"),
        ("pseudo-labeller", f"synthetic-{cfg['pseudo_label']['source_size']} head of the same seed"),
        ("training seeds", ", ".join(map(str, cfg["seeds"]))),
        ("data split seed", str(cfg["data_seed"])),
    ]
    return rows


def setup_tex(cfg: Mapping[str, Any]) -> str:
    """The setup table (`setup_rows`) as a LaTeX tabular."""
    lines = [r"\begin{tabular}{@{}p{0.36\linewidth}p{0.58\linewidth}@{}}", r"\toprule",
             r"setting & value \\", r"\midrule"]
    lines += [f"{tex(k)} & {tex(v)} \\\\" for k, v in setup_rows(cfg)]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def runtimes_tex(stage_secs: Mapping[str, float]) -> str:
    """Wall time per stage and their total as a LaTeX tabular."""
    lines = [r"\begin{tabular}{lr}", r"\toprule", r"stage & wall time (m:ss) \\", r"\midrule"]
    for stage, secs in stage_secs.items():
        lines.append(f"{tex(STAGE_LABEL.get(stage, stage))} & {hms(secs)} \\\\")
    lines += [r"\midrule", f"total of the timed stages & {hms(sum(stage_secs.values()))} \\\\",
              r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
