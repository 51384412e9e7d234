"""Everything the paper quotes, generated from the run: macros and small tables.

The LaTeX source (`paper/main.tex`) types no number. It reads them from

- `paper/tables/numbers.tex`: one `\\Num{<key>}` value per quoted number or
  setting (accuracies, spreads, published values, differences, pseudo-label
  diagnostics, config settings, versions, run times), plus the offline switch
  `\\ifoffline` and the offline notice text;
- `paper/tables/reported_vs_reproduced.tex`: published accuracy beside this
  run's mean ± std and the difference, per variant that has a published value;
- `paper/tables/setup.tex`: the experimental settings from the resolved config;
- `paper/tables/runtimes.tex`: wall time per stage from Snakemake benchmark files.

Values are keyed `\\Num{acc/synthetic-500/test/mean}`; an unknown key is a
LaTeX error, so a typo or a dropped variant can never print an empty cell.
Everything iterates over `summary["variants"]`: a method added to the study
appears in the macros and tables without changes here.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from synth2real.config import Study
from synth2real.store import read_json

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
SPLIT_LABEL = {"train": "synthetic train", "val": "synthetic val", "test": "real test"}
# Pipeline stages in run order, with the words the paper uses for them.
STAGE_LABEL = {
    "generate": "synthetic image generation",
    "data": "manifests (splits, test set, pool)",
    "backbone": "backbone export + parity check",
    "features": "backbone features (all image sets)",
    "train": "baseline heads (all sizes, seeds)",
    "pseudo": "pseudo-labelling the pool",
    "adapt": "adapted heads (all seeds)",
}

_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def tex(text: object) -> str:
    """`text` with LaTeX's special characters escaped (for running text and table cells)."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in str(text))


def pct(x: float) -> str:
    """A fraction as a percentage with two decimals (the precision of the published table)."""
    return f"{100 * x:.2f}"


def signed(x: float) -> str:
    """A difference in percentage points with an explicit sign (LaTeX minus for negatives)."""
    s = f"{100 * x:+.2f}"
    return s.replace("-", "$-$") if s.startswith("-") else s


# ------------------------------------------------------------ run times ----


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


def hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# --------------------------------------------------------------- macros ----


def _source_words(kind: str, where: str) -> str:
    """What a `folder` source actually holds, recognised from the bundle layout."""
    low = where.lower()
    if "tiny-imagenet" in low:
        return "real Tiny-ImageNet photographs (64\\,px)"
    if "cifar10" in low or "cifar-10" in low:
        return "real CIFAR-10 photographs (32\\,px)"
    return f"images from the folder \\texttt{{{tex(where)}}}"


def offline_notice(cfg: Mapping[str, Any]) -> str:
    """One paragraph naming which offline inputs stood in for which study inputs."""
    syn, real = cfg["synthetic"]["source"], cfg["real"]["source"]
    parts = []
    if syn["kind"] == "folder":
        parts.append(f"{_source_words('folder', syn['root'])} stood in for the Stable Diffusion "
                     "images of the source domain")
    if real["kind"] == "folder":
        parts.append(f"{_source_words('folder', real['root'])} stood in for the real target "
                     "photographs (test set and unlabelled pool)")
    if cfg["backbone"]["weights"]["kind"] == "path":
        parts.append("the ImageNet MobileNetV2 weights were read from a local, checksum-verified "
                     "file instead of being downloaded")
    joined = "; ".join(parts) if parts else "inputs were read from a local bundle"
    return (f"This run used the offline configuration: {joined}. The numbers therefore measure "
            "the methods on a cross-dataset photo-to-photo shift; they are not the "
            "synthetic-to-real figures of the published study and must not be read as such.")


def numbers(summary: Mapping[str, Any], prov: Mapping[str, Any], stage_secs: Mapping[str, float],
            counts: Mapping[str, int], command: str) -> dict[str, str]:
    """key -> LaTeX-ready text for every number and setting the paper quotes."""
    cfg = prov["config"]
    n: dict[str, str] = {}
    variants = summary["variants"]
    n["nvariants"] = str(len(variants))
    for v, s in variants.items():
        rep = summary["reported"].get(v, {})
        for split in SPLITS:
            a = s[f"{split}_acc"]
            n[f"acc/{v}/{split}/mean"] = pct(a["mean"])
            n[f"acc/{v}/{split}/std"] = pct(a["std"])
            n[f"acc/{v}/{split}/min"] = pct(min(a["per_seed"].values()))
            n[f"acc/{v}/{split}/max"] = pct(max(a["per_seed"].values()))
            if f"{split}_acc" in rep:
                n[f"rep/{v}/{split}"] = pct(rep[f"{split}_acc"])
                n[f"diff/{v}/{split}"] = signed(a["mean"] - rep[f"{split}_acc"])
        for c, a in s["per_class_test_acc"].items():
            n[f"class/{v}/{c}/mean"] = pct(a["mean"])
            n[f"class/{v}/{c}/std"] = pct(a["std"])
        if "pseudo_label" in s:
            p = s["pseudo_label"]
            n[f"pl/{v}/threshold"] = f"{p['threshold']:g}"
            n[f"pl/{v}/accepted"] = f"{p['accepted']['mean']:.0f}"
            n[f"pl/{v}/accepted/std"] = f"{p['accepted']['std']:.0f}"
            for k in ("accepted_share", "pseudo_label_acc", "ood_accepted_share"):
                if isinstance(p.get(k), dict) and p[k].get("per_seed"):
                    n[f"pl/{v}/{k.replace('_', '-')}"] = pct(p[k]["mean"])
                    n[f"pl/{v}/{k.replace('_', '-')}/std"] = pct(p[k]["std"])
            for c, a in p["accepted_per_class"].items():
                n[f"pl/{v}/accepted/{c}"] = f"{a['mean']:.0f}"
    # Best variant on real test, and each variant against the smallest baseline.
    best = max(variants, key=lambda v: variants[v]["test_acc"]["mean"])
    n["best/variant"] = f"\\texttt{{{tex(best)}}}"
    n["best/test"] = pct(variants[best]["test_acc"]["mean"])
    base = next(iter(variants))
    n["base/variant"] = f"\\texttt{{{tex(base)}}}"
    for v, s in variants.items():
        n[f"gain/{v}/test"] = signed(s["test_acc"]["mean"] - variants[base]["test_acc"]["mean"])

    for k, c in counts.items():
        n[f"count/{k}"] = str(c)
    n.update(role_numbers(summary, n))

    # Settings, all from the resolved config.
    syn, real, bb = cfg["synthetic"], cfg["real"], cfg["backbone"]
    n["study"] = tex(summary["study"])
    n["classes"] = ", ".join(f"\\textit{{{tex(c)}}}" for c in summary["classes"])
    n["nclasses"] = str(len(summary["classes"]))
    n["seeds"] = ", ".join(str(s) for s in summary["seeds"])
    n["nseeds"] = str(len(summary["seeds"]))
    n["dataseed"] = str(cfg["data_seed"])
    n["sizes"] = ", ".join(str(s) for s in syn["sizes"])
    n["maxsize"] = str(max(syn["sizes"]))
    n["valpct"] = f"{100 * syn['val_fraction']:g}"
    n["trainpct"] = f"{100 * (1 - syn['val_fraction']):g}"
    n["synsource"] = tex(syn["source"]["kind"])
    n["realsource"] = tex(real["source"]["kind"])
    n["testperclass"] = str(real["test_per_class"])
    n["poolsize"] = str(real["pool_size"])
    n["oodpct"] = f"{100 * real['ood_fraction']:g}"
    n["indomainpct"] = f"{100 * (1 - real['ood_fraction']):g}"
    n["arch"] = tex(bb["arch"])
    n["imagesize"] = str(bb["image_size"])
    n["weights"] = tex(bb["weights"]["kind"])
    n["engine"] = tex(cfg["features"]["engine"])
    tr = cfg["train"]
    n["optimizer"] = {"adam": "Adam"}.get(tr["optimizer"], tex(tr["optimizer"]))
    n["lr"] = f"{tr['lr']:g}"
    n["stepsize"] = str(tr["step_size"])
    n["gamma"] = f"{tr['gamma']:g}"
    n["epochs"] = str(tr["epochs"])
    n["batchsize"] = str(tr["batch_size"])
    n["dropout"] = f"{tr['dropout']:g}"
    n["threshold"] = f"{cfg['pseudo_label']['threshold']:g}"
    n["pseudosource"] = f"\\texttt{{synthetic-{cfg['pseudo_label']['source_size']}}}"
    n["exportseed"] = str(cfg["export"]["seed"])
    n["opset"] = str(cfg["export"]["opset"])
    gen = syn["source"]
    if gen["kind"] == "diffusers":
        n["gen/model"] = f"\\texttt{{{tex(gen['model_id'])}}}"
        n["gen/steps"] = str(gen["steps"])
        n["gen/guidance"] = f"{gen['guidance_scale']:g}"
        n["gen/resolution"] = str(gen["resolution"])
        n["gen/scheduler"] = tex(gen["scheduler"])
        n["gen/prompt"] = tex(gen["prompt_template"])

    # Provenance: commit, versions, hardware, run times, command.
    n["commit"] = f"\\texttt{{{tex(str(prov.get('git_commit', 'unknown'))[:12])}}}"
    n["confighash"] = f"\\texttt{{{tex(prov.get('config_hash', ''))}}}"
    n["created"] = tex(str(prov.get("created", "")).replace("T", " "))
    # Long platform strings may break after their hyphens.
    n["platform"] = tex(prov.get("platform", "unknown")).replace("-", "-\\allowbreak{}")
    from synth2real.provenance import PACKAGES

    versions = prov.get("versions", {})
    for name in ["python", *PACKAGES, *versions]:
        n[f"v/{name}"] = tex(versions.get(name, "not installed"))
    hw = prov.get("hardware") or {}
    n["hw/cpu"] = tex(hw.get("cpu") or "not recorded")
    n["hw/cores"] = str(hw.get("cores") or "?")
    n["hw/memory"] = f"{hw['memory_gb']:.0f}\\,GB" if hw.get("memory_gb") else "not recorded"
    n["hw/gpu"] = tex(", ".join(hw["gpus"])) if hw.get("gpus") else "none"
    for stage, secs in stage_secs.items():
        n[f"time/{stage}"] = hms(secs)
    n["time/total"] = hms(sum(stage_secs.values()))
    n["command"] = f"\\texttt{{{tex(command)}}}"
    return n


def roles(summary: Mapping[str, Any]) -> dict[str, str]:
    """The study's three roles -> variant names in this run.

    `small`/`large`: the smallest and largest synthetic-only baseline;
    `adapted`: the pseudo-label variant. The prose of main.tex speaks of roles,
    so it reads the same for any configured set sizes.
    """
    base = sorted((v for v in summary["variants"] if re.fullmatch(r"synthetic-\d+", v)),
                  key=lambda v: int(v.split("-")[1]))
    if not base:
        raise ValueError("summary.json has no synthetic-<size> baseline variant")
    out = {"small": base[0], "large": base[-1]}
    if "pseudo-label" in summary["variants"]:
        out["adapted"] = "pseudo-label"
    return out


def paired_verdict(a: Mapping[str, float], b: Mapping[str, float]) -> str:
    """How variant b's per-seed accuracy compares with a's over the shared seeds (paired)."""
    diffs = [b[s] - a[s] for s in a if s in b]
    if not diffs:
        raise ValueError("the two variants share no seed")
    if all(d > 0 for d in diffs):
        return f"higher in all {len(diffs)} seeds" if len(diffs) > 1 else "higher (one seed)"
    if all(d < 0 for d in diffs):
        return f"lower in all {len(diffs)} seeds" if len(diffs) > 1 else "lower (one seed)"
    up = sum(d > 0 for d in diffs)
    return f"higher in {up} of {len(diffs)} seeds, so not a consistent change"


def role_numbers(summary: Mapping[str, Any], n: Mapping[str, str]) -> dict[str, str]:
    """Every per-variant key again under its role (`acc/large/test/mean`), plus comparisons."""
    r = roles(summary)
    out: dict[str, str] = {}
    for role, v in r.items():
        out[f"role/{role}"] = f"\\texttt{{{tex(v)}}}"
        for key, value in n.items():
            if f"/{v}/" in key:
                out[key.replace(f"/{v}/", f"/{role}/")] = value
    out.update(published_sentences(summary, r))
    test = {v: summary["variants"][v]["test_acc"] for v in summary["variants"]}
    pairs = [("large", "small")] + ([("adapted", "large"), ("adapted", "small")]
                                    if "adapted" in r else [])
    for hi, lo in pairs:
        a, b = test[r[lo]], test[r[hi]]
        out[f"delta/{hi}-{lo}/test"] = signed(b["mean"] - a["mean"])
        out[f"verdict/{hi}-{lo}"] = paired_verdict(a["per_seed"], b["per_seed"])
    return out


def published_sentences(summary: Mapping[str, Any], r: Mapping[str, str]) -> dict[str, str]:
    """Sentences quoting the published real-test accuracy of each role, or saying there is none.

    The study published values for 500 and 1000 images per class and for its
    adapted model; a run with other set sizes has nothing to compare with.
    """
    def rep(role: str) -> str | None:
        v = summary["reported"].get(r.get(role, ""), {}).get("test_acc")
        return None if v is None else f"{pct(v)}\\,\\%"

    small, large, adapted = rep("small"), rep("large"), rep("adapted")
    out = {}
    if large and adapted:
        out["text/published-abstract"] = (f"the study reported {large} and {adapted} from a "
                                          "single run")
    else:
        out["text/published-abstract"] = ("the published study has no values for the set sizes "
                                          "of this run")
    if small and large:
        out["text/published-more-data"] = (f"The published single run went from {small} to "
                                           f"{large}.")
    else:
        out["text/published-more-data"] = ("The published study has no values for these set "
                                           "sizes to compare with.")
    return out


def numbers_tex(n: Mapping[str, str], offline: bool, notice: str) -> str:
    """`paper/tables/numbers.tex`: `\\Num{key}` lookups plus the offline switch."""
    lines = [
        "% Generated by the workflow (rule paper_numbers) from results/summary.json,",
        "% results/provenance.json and results/benchmarks/; do not edit.",
        r"\makeatletter",
        (r"\newcommand{\Num}[1]{\@ifundefined{s2r@#1}"
         r"{\PackageError{numbers}{No generated number `#1'}{See paper/tables/numbers.tex.}??}"
         r"{\@nameuse{s2r@#1}}}"),
    ]
    for key, value in n.items():
        if not re.fullmatch(r"[A-Za-z0-9/_.+-]+", key):
            raise ValueError(f"number key {key!r} has characters LaTeX cannot name")
        lines.append(f"\\@namedef{{s2r@{key}}}{{{value}}}")
    lines += [
        r"\makeatother",
        r"\newif\ifoffline",
        r"\offlinetrue" if offline else r"\offlinefalse",
        f"\\newcommand{{\\OfflineNotice}}{{{notice}}}",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------- tables ----


def _variant_tt(v: str) -> str:
    return f"\\texttt{{{tex(v)}}}"


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
            first = f"\\multirow{{{len(splits)}}}{{*}}{{{_variant_tt(v)}}}" if j == 0 else ""
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
    lines = [r"\begin{tabular}{@{}p{0.36\linewidth}p{0.58\linewidth}@{}}", r"\toprule",
             r"setting & value \\", r"\midrule"]
    lines += [f"{tex(k)} & {tex(v)} \\\\" for k, v in setup_rows(cfg)]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def runtimes_tex(stage_secs: Mapping[str, float]) -> str:
    lines = [r"\begin{tabular}{lr}", r"\toprule", r"stage & wall time (m:ss) \\", r"\midrule"]
    for stage, secs in stage_secs.items():
        lines.append(f"{tex(STAGE_LABEL.get(stage, stage))} & {hms(secs)} \\\\")
    lines += [r"\midrule", f"total of the timed stages & {hms(sum(stage_secs.values()))} \\\\",
              r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- glue ----


def manifest_counts(source_csv: str, test_csv: str, pool_csv: str, sizes: Iterable[int]) -> dict[str, int]:
    """Image counts the paper quotes, counted in the manifests the run actually used."""
    from synth2real.data import manifests

    src = manifests.read_csv(source_csv)
    out: dict[str, int] = {}
    for size in sizes:
        for split in ("train", "val"):
            out[f"synthetic-{size}/{split}"] = len(manifests.source_subset(src, size, split))
    pool = manifests.read_csv(pool_csv)
    out["test"] = len(manifests.read_csv(test_csv))
    out["pool"] = len(pool)
    out["pool/ood"] = sum(1 for r in pool if r["in_domain"] == "0")
    return out


def command_line(configfiles: Sequence[str], bundle: str | None, repo: Path) -> str:
    """The reviewer's command that reproduces this run (config path relative to the repo)."""
    def rel(p: str) -> str:
        try:
            return str(Path(p).resolve().relative_to(repo.resolve()))
        except ValueError:
            return str(p)

    cmd = "make reproduce"
    if configfiles:
        cmd += f" CONFIG={rel(configfiles[-1])}"
    if bundle:
        cmd += " BUNDLE=<bundle>"
    return cmd


def write_paper_inputs(cfg: Study, summary_json: str, provenance_json: str,
                       benchmarks: Mapping[str, Sequence[str]], manifests_csv: Sequence[str],
                       configfiles: Sequence[str], repo: str, out: Mapping[str, str]) -> None:
    """Rule paper_numbers: numbers.tex, reported_vs_reproduced.tex, setup.tex, runtimes.tex.

    `manifests_csv`: (source, real_test, pool); `out`: name -> path for the four files.
    """
    summary, prov = read_json(summary_json), read_json(provenance_json)
    secs = stage_seconds(benchmarks)
    counts = manifest_counts(*manifests_csv, sizes=prov["config"]["synthetic"]["sizes"])
    command = command_line(configfiles, prov["config"].get("bundle"), Path(repo))
    n = numbers(summary, prov, secs, counts, command)
    notice = offline_notice(prov["config"])
    texts = {
        "numbers": numbers_tex(n, bool(summary["offline"]), notice),
        "reported": reported_vs_reproduced_tex(summary),
        "setup": setup_tex(prov["config"]),
        "runtimes": runtimes_tex(secs),
    }
    for name, text in texts.items():
        Path(out[name]).parent.mkdir(parents=True, exist_ok=True)
        Path(out[name]).write_text(text)
    log.info("paper inputs: %d numbers, %d timed stages, offline=%s", len(n), len(secs),
             summary["offline"])


def sample_grid(cfg: Study, source_csv: str, test_csv: str, *out: str) -> None:
    """Rule figure_sample_grid, with block titles naming what the images are in this config."""
    from synth2real.report.figures import sample_grid as fig

    generated = cfg.synthetic.source.kind == "diffusers"
    fig.make(cfg.classes, source_csv, test_csv, *out,
             source_label="generated training images" if generated
             else "source training images (stand-in for generated)",
             target_label="real test photos (target)")
