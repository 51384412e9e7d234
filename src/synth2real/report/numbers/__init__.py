"""The `\\Num{<key>}` macros: every number and setting the paper quotes, as LaTeX text.

`paper/main.tex` types no number: it reads each one as `\\Num{<key>}` from the
generated `numbers.tex` (accuracies, spreads, published values, differences,
pseudo-label diagnostics, the evaluation's intervals, oracle, gap closure, model
selection and claim verdicts (`numbers.evaluation`), config settings, versions,
run times, and the labeled-budget track's (`numbers.budgets`) when the run has it), plus
the offline switch `\\ifoffline`, the offline notice text and the track's switch `\\ifbudgets`.

Values are keyed `\\Num{acc/synthetic-500/test/mean}`; an unknown key is a
LaTeX error, so a typo or a dropped variant can never print an empty cell.
Everything iterates over `summary["variants"]`: a method added to the study
appears in the macros without changes here. The prose speaks of roles
(`acc/large/test/mean`), so it reads the same for any configured set sizes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from synth2real.provenance import PACKAGES
from synth2real.report.cells import SPLITS, candidates
from synth2real.report.numbers.evaluation import evaluation_numbers, selection_limits
from synth2real.report.text import hms, pct, signed, tex, tt


def _source_words(where: str) -> str:
    """What a `folder` source actually holds, recognised from the bundle layout."""
    low = where.lower()
    if "tiny-imagenet" in low:
        return "real Tiny-ImageNet photographs (64\\,px)"
    if "cifar10" in low or "cifar-10" in low:
        return "real CIFAR-10 photographs (32\\,px)"
    return f"images from the folder {tt(where)}"


def offline_notice(cfg: Mapping[str, Any]) -> str:
    """One paragraph naming which offline inputs stood in for which study inputs."""
    syn, real = cfg["synthetic"]["source"], cfg["real"]["source"]
    parts = []
    if syn["kind"] == "folder":
        parts.append(f"{_source_words(syn['root'])} stood in for the Stable Diffusion "
                     "images of the source domain")
    if real["kind"] == "folder":
        parts.append(f"{_source_words(real['root'])} stood in for the real target "
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
    # Best candidate on real test (never the oracle: it sees target labels), and each
    # variant against the smallest baseline.
    best = max(candidates(summary), key=lambda v: variants[v]["test_acc"]["mean"])
    n["best/variant"] = tt(best)
    n["best/test"] = pct(variants[best]["test_acc"]["mean"])
    base = next(iter(variants))
    n["base/variant"] = tt(base)
    for v, s in variants.items():
        n[f"gain/{v}/test"] = signed(s["test_acc"]["mean"] - variants[base]["test_acc"]["mean"])

    for k, c in counts.items():
        n[f"count/{k}"] = str(c)
    n.update(evaluation_numbers(summary))
    n["text/selection-limits"] = selection_limits(summary, counts)
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
    n["pseudosource"] = tt(f"synthetic-{cfg['pseudo_label']['source_size']}")
    n["exportseed"] = str(cfg["export"]["seed"])
    n["opset"] = str(cfg["export"]["opset"])
    gen = syn["source"]
    if gen["kind"] == "diffusers":
        n["gen/model"] = tt(gen["model_id"])
        n["gen/steps"] = str(gen["steps"])
        n["gen/guidance"] = f"{gen['guidance_scale']:g}"
        n["gen/resolution"] = str(gen["resolution"])
        n["gen/scheduler"] = tex(gen["scheduler"])
        n["gen/prompt"] = tex(gen["prompt_template"])

    # Provenance: commit, versions, hardware, run times, command.
    n["commit"] = tt(str(prov.get("git_commit", "unknown"))[:12])
    n["confighash"] = tt(prov.get("config_hash", ""))
    n["created"] = tex(str(prov.get("created", "")).replace("T", " "))
    # Long platform strings may break after their hyphens.
    n["platform"] = tex(prov.get("platform", "unknown")).replace("-", "-\\allowbreak{}")
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
    n["command"] = tt(command)
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
        out[f"role/{role}"] = tt(v)
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


def numbers_tex(n: Mapping[str, str], offline: bool, notice: str, budgets: bool = False) -> str:
    """`paper/tables/numbers.tex`: `\\Num{key}` lookups plus the offline switch, and the
    `\\ifbudgets` switch: whether the run has the labeled-budget track (its section, figure,
    table and `budget/...` macros; `numbers.budgets`)."""
    lines = [
        "% Generated by the workflow (rule paper_inputs) from results/summary.json,",
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
        r"\newif\ifbudgets",
        r"\budgetstrue" if budgets else r"\budgetsfalse",
        f"\\newcommand{{\\OfflineNotice}}{{{notice}}}",
        "",
    ]
    return "\n".join(lines)
