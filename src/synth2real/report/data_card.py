"""The paper's data card: how the synthetic images were generated, and how many.

Built from the per-image generation manifest (`results/generate/manifest.csv`)
alone, so every number in it is what was actually generated (model commit,
steps, guidance values, safety-checker retries, time), not what the config
asked for. Written as CSV (one row per class, settings repeated so each row
stands alone), Markdown and LaTeX (a settings table and a per-class table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import mean
from typing import Any

from synth2real.config import DiffusersGenerator, SyntheticData
from synth2real.data import prompts
from synth2real.data.manifests import read_csv
from synth2real.errors import ConfigError
from synth2real.report.text import csv_text, tex, write_texts

CSV_FIELDS = [
    "class", "images", "distinct_prompts", "guidance_min", "guidance_max", "guidance_mean",
    "safety_retries", "seconds_per_image", "model", "revision", "commit", "scheduler", "steps",
    "resolution", "dtype", "negative_prompt", "devices",
]


def _one(rows: Sequence[Mapping[str, str]], key: str) -> str:
    return " / ".join(sorted({r[key] for r in rows}))


def class_rows(manifest: Sequence[Mapping[str, str]], classes: Sequence[str]) -> list[dict[str, Any]]:
    """One row per class plus an 'all' row, from the manifest rows."""
    out = []
    for cls in [*classes, "all"]:
        rows = [r for r in manifest if cls == "all" or r["class"] == cls]
        if not rows:
            continue
        guidance = [float(r["guidance"]) for r in rows]
        out.append({
            "class": cls,
            "images": len(rows),
            "distinct_prompts": len({r["prompt"] for r in rows}),
            "guidance_min": min(guidance),
            "guidance_max": max(guidance),
            "guidance_mean": round(mean(guidance), 3),
            # Each blanked seed is one regeneration.
            "safety_retries": sum(len(r["blanked_seeds"].split()) for r in rows),
            "seconds_per_image": round(mean(float(r["seconds"]) for r in rows), 4),
            "model": _one(rows, "model"),
            "revision": _one(rows, "revision"),
            "commit": _one(rows, "commit"),
            "scheduler": _one(rows, "scheduler"),
            "steps": _one(rows, "steps"),
            "resolution": " / ".join(sorted({f"{r['width']}x{r['height']}" for r in rows})),
            "dtype": _one(rows, "dtype"),
            "negative_prompt": _one(rows, "negative_prompt"),
            "devices": _one(rows, "device"),
        })
    return out


def _guidance(row: Mapping[str, Any]) -> str:
    if row["guidance_min"] == row["guidance_max"]:
        return f"{row['guidance_min']:g}"
    return f"{row['guidance_min']:g}-{row['guidance_max']:g} per image (mean {row['guidance_mean']:g})"


def settings(synthetic: SyntheticData, total: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(setting, value) pairs for the settings table; values as generated."""
    gen = synthetic.source
    if not isinstance(gen, DiffusersGenerator):
        raise ConfigError("the data card describes generated images: synthetic.source.kind "
                          f"is {gen.kind!r}, not 'diffusers'")
    commit = total["commit"]
    return [
        ("model", f"{total['model']} (revision {total['revision']}"
                  + (f", commit {commit[:12]})" if commit != "local" else ", local folder)")),
        ("scheduler", f"{total['scheduler']}, {total['steps']} steps"),
        ("guidance scale", _guidance(total)),
        ("resolution", f"{total['resolution']} px"),
        ("precision", total["dtype"]),
        ("prompts", prompts.describe(gen)),
        ("negative prompt", total["negative_prompt"] or "none"),
        ("seeds", f"one per image from base seed {gen.base_seed}, class and index"),
        ("sets used", ", ".join(f"first {s}" for s in synthetic.sizes) + " per class"),
    ]


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    return csv_text(rows, CSV_FIELDS, float_format=None)


def to_markdown(synthetic: SyntheticData, rows: Sequence[Mapping[str, Any]]) -> str:
    lines = ["| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in settings(synthetic, rows[-1])]
    lines += ["", "| class | images | distinct prompts | guidance | safety-checker retries | s/image |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {r['class']} | {r['images']} | {r['distinct_prompts']} | {_guidance(r)} "
              f"| {r['safety_retries']} | {r['seconds_per_image']:.3f} |" for r in rows]
    return "\n".join(lines) + "\n"


def to_latex(synthetic: SyntheticData, rows: Sequence[Mapping[str, Any]]) -> str:
    lines = [r"\begin{tabular}{ll}", r"\toprule", r"setting & value \\", r"\midrule"]
    lines += [f"{tex(k)} & {tex(v)} \\\\" for k, v in settings(synthetic, rows[-1])]
    lines += [r"\bottomrule", r"\end{tabular}", "", r"\medskip", "",
              r"\begin{tabular}{lrrlrr}", r"\toprule",
              r"class & images & prompts & guidance & safety retries & s/image \\", r"\midrule"]
    for r in rows:
        if r["class"] == "all":
            lines.append(r"\midrule")
        lines.append(f"{tex(r['class'])} & {r['images']} & {r['distinct_prompts']} & "
                     f"{tex(_guidance(r))} & {r['safety_retries']} & {r['seconds_per_image']:.3f} \\\\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def write(manifest: str, csv: str, md: str, tex: str, *, classes: list[str],
          synthetic: SyntheticData) -> None:
    """Rule data_card: the card from the generation manifest as CSV, Markdown and LaTeX."""
    rows = class_rows(read_csv(manifest), classes)
    write_texts({csv: to_csv(rows), md: to_markdown(synthetic, rows),
                 tex: to_latex(synthetic, rows)})
