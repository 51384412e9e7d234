"""Every paper figure is legible at the size paper/main.tex prints it.

Each figure is drawn as its rule draws it, then measured in the renderer: the
text actually drawn (its size after LaTeX scales the saved file to the printed
width), whether any two labels overlap, and whether a legend lies over an
axes' data area or over a label. Drawn for a run with the study's three
variants and for one with the 31 variants of the methods comparison (17 of
them pseudo-labelling), the case the figures first failed on.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.transforms import Bbox
from PIL import Image

from synth2real.report import figures
from synth2real.report.figures import (
    accuracy_bars,
    all_methods,
    budgets,
    confusion_matrices,
    domain_gap,
    pixel_pairs,
    pseudo_label_diagnostics,
    sample_grid,
    threshold_sweep,
)
from tests.conftest import REPO
from tests.unit.analysis.budget_fakes import make_budgets
from tests.unit.report.fakes import add_evaluation, fake_refined, fake_summary

# Smallest text on paper, in points (the caption beneath a figure is 9 pt).
MIN_PT = 6.0
# How much two boxes may touch, in pixels at 100 dpi, before they count as overlapping
# (anti-aliasing and a glyph's side bearing).
TOUCH_PX = 0.5
MAIN_TEX = REPO / "paper" / "main.tex"


# ---------------------------------------------------------------------------------------------
# The paper's print sizes


def printed_fractions() -> dict[str, float]:
    """figure name -> its `width=<f>\\linewidth` in paper/main.tex."""
    tex = MAIN_TEX.read_text()
    found = re.findall(r"\\includegraphics\[width=([0-9.]+)\\linewidth\]\{figures/([\w-]+)\.pdf\}",
                       tex)
    assert found, "no \\includegraphics[width=<f>\\linewidth]{figures/<name>.pdf} in main.tex"
    return {name: float(f) for f, name in found}


def test_text_width_is_the_papers():
    """figures.TEXT_WIDTH_IN is main.tex's \\linewidth: the paper and the margins figures use."""
    tex = MAIN_TEX.read_text()
    assert re.search(r"\\documentclass\[[^\]]*a4paper", tex)
    margin_cm = float(re.search(r"\\usepackage\[margin=([0-9.]+)cm\]\{geometry\}", tex).group(1))
    assert figures.TEXT_WIDTH_IN == pytest.approx((21.0 - 2 * margin_cm) / 2.54)


# ---------------------------------------------------------------------------------------------
# The measurements


def _drawn_texts(fig: plt.Figure):
    """Draw `fig` once; returns (renderer, [(Text artist, font size in pt)] actually drawn).

    Spies on the renderer rather than listing Text artists: tick labels outside the view
    and empty texts exist as artists but are never drawn.
    """
    fig.set_dpi(100)
    renderer = fig.canvas.get_renderer()
    drawn: dict[int, tuple] = {}
    draw_text = renderer.draw_text

    def spy(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if mtext is not None and s.strip():
            drawn[id(mtext)] = (mtext, prop.get_size_in_points())
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = spy
    try:
        fig.draw(renderer)
    finally:
        del renderer.draw_text
    return renderer, list(drawn.values())


def _overlap(a: Bbox, b: Bbox) -> bool:
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > TOUCH_PX
            and min(a.y1, b.y1) - max(a.y0, b.y0) > TOUCH_PX)


def print_scale(fig: plt.Figure, renderer, fraction: float) -> float:
    """Printed size / drawn size: LaTeX scales the saved file (tight box + 0.1 in a side)
    to `fraction` x \\linewidth."""
    saved_in = fig.get_tightbbox(renderer).width + 2 * plt.rcParams["savefig.pad_inches"]
    return fraction * figures.TEXT_WIDTH_IN / saved_in


def problems(fig: plt.Figure, fraction: float) -> list[str]:
    """What makes `fig` illegible when printed at `fraction` x \\linewidth; [] when nothing."""
    renderer, texts = _drawn_texts(fig)
    scale = print_scale(fig, renderer, fraction)
    out = []
    boxes = [(t, t.get_window_extent(renderer)) for t, _ in texts]
    for t, size in texts:
        if size * scale < MIN_PT - 1e-6:
            out.append(f"text {t.get_text()!r} prints at {size * scale:.1f} pt (< {MIN_PT} pt)")
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            if _overlap(box_a, box_b):
                out.append(f"labels {a.get_text()!r} and {b.get_text()!r} overlap")
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for k, ax in enumerate(fig.axes):
            if ax.get_visible() and _overlap(box, ax.get_window_extent(renderer)):
                out.append(f"legend {[t.get_text() for t in legend.get_texts()]} covers the data "
                           f"area of axes {k} ({ax.get_title()!r})")
        own = set(map(id, legend.get_texts())) | {id(legend.get_title())}
        for t, box_t in boxes:
            if id(t) not in own and _overlap(box, box_t):
                out.append(f"legend {[x.get_text() for x in legend.get_texts()]} covers the "
                           f"label {t.get_text()!r}")
    return out


# ---------------------------------------------------------------------------------------------
# The measurements catch what they are meant to catch


def test_checker_finds_a_legend_over_the_data_overlapping_labels_and_tiny_text():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(loc="upper left")
    ax.set_title("a title")
    assert any("covers the data area" in p for p in problems(fig, 0.5))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.set_title("a title")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0))  # outside, but over the title
    assert any("covers the label 'a title'" in p for p in problems(fig, 0.5))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(1.5, 2))
    ax.set_xticks(range(3), ["a long tick label", "another long one", "and a third"])
    found = problems(fig, 0.5)
    assert any(p.startswith("labels 'a long tick label' and 'another long one' overlap")
               for p in found)
    plt.close(fig)

    # The same 7 pt text: legible in a figure drawn at its print width, not in one printed
    # at half the width it was drawn at.
    for width, legible in ((3.0, True), (12.0, False)):
        fig, ax = plt.subplots(figsize=(width, 2))
        ax.set_title("seven points", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
        assert any("prints at" in p for p in problems(fig, 3.0 / figures.TEXT_WIDTH_IN)) != legible
        plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Runs to draw


def _stat(per_seed: dict[str, float]) -> dict:
    v = list(per_seed.values())
    m, sd = statistics.mean(v), statistics.stdev(v)
    return {"mean": m, "std": sd, "ci95": [m - 2 * sd, m + 2 * sd], "per_seed": per_seed}


def recorded_settings(threshold: float, rounds: int) -> dict:
    """A variant's `method.settings` as the summary records them (threshold pseudo-labels,
    `rounds` self-training rounds): dumped from the config's own variant model, so the fake
    follows its schema."""
    from synth2real.config.variants import Variant

    spec = Variant.model_validate({"pseudo_labels": {"kind": "threshold", "threshold": threshold},
                                   "rounds": {"count": rounds}})
    return spec.model_dump(mode="json", exclude={"description"})


def many_variants() -> dict:
    """A run like the offline study's: 31 variants, 17 of them pseudo-labelling (thresholds,
    class-balanced, self-training, mixing...), realistic accuracies and pool counts."""
    pl = ["pseudo-label", "threshold-0.51", "threshold-0.7", "threshold-0.8", "threshold-0.9",
          "threshold-0.95", "balanced", "self-training", "ood-energy", "adabn+pl", "align+pl",
          "align+balanced", "align+adabn+pl", "align+adabn+balanced", "mix-1to1", "mix-1to7",
          "mix-1to15"]
    other = ["adabn", "dann", "align", "align+dann", "align+adabn", "mcc", "align+mcc", "coral",
             "align+coral", "im", "align+im"]
    names = ["synthetic-50", "synthetic-100", *pl, *other]
    s = fake_summary(tuple(names), evaluation=False)
    s["seeds"] = [0, 1]
    rng = np.random.default_rng(0)
    for k, v in enumerate(names):
        base = 0.62 + 0.09 * rng.random()
        for split, d in (("train", 0.3), ("val", 0.25), ("test", 0.0)):
            s["variants"][v][f"{split}_acc"] = _stat({"0": base + d, "1": base + d + 0.01})
        s["variants"][v]["test_acc"]["bootstrap"] = {"mean": base, "ci95": [base - 0.017,
                                                                            base + 0.017]}
    for v in pl:
        threshold = float(v.split("-")[1]) if v.startswith("threshold-") else 0.51
        accepted = 2700 * (1 - threshold) / 0.49 * (0.6 if "balanced" in v else 1)
        per_class = {c: _stat({"0": accepted * w, "1": accepted * w + 20})
                     for c, w in zip(s["classes"], (0.34, 0.45, 0.21))}
        s["variants"][v]["pseudo_label"] = {
            "threshold": threshold, "accepted": _stat({"0": accepted, "1": accepted + 60}),
            "accepted_share": _stat({"0": accepted / 3000, "1": (accepted + 60) / 3000}),
            "pseudo_label_acc": _stat({"0": 0.57 + threshold / 5, "1": 0.58 + threshold / 5}),
            "ood_accepted_share": _stat({"0": 0.9 - threshold / 1.2, "1": 0.92 - threshold / 1.2}),
            "accepted_per_class": per_class, "per_seed": {}}
        # Only the threshold-<t> variants are threshold-only: the sweep's points.
        s["variants"][v]["method"] = {"description": v, "settings": recorded_settings(
            threshold, rounds=1 if v.startswith("threshold-") else 3)}
    add_evaluation(s, oracle="oracle")
    return s


SUMMARIES: dict[str, Callable[[], dict]] = {
    "three variants": lambda: fake_summary(("synthetic-50", "synthetic-100", "pseudo-label")),
    "31 variants": many_variants,
}


def tsne_panels(n: int) -> list[domain_gap.Panel]:
    """The first `n` - 1 of every panel the workflow draws, then the DANN panel (as it comes)."""
    rng = np.random.default_rng(0)
    labels = ["before (frozen features)", "source at target resolution", "FDA-refined source",
              "SimGAN-refined source", "CycleGAN-refined source", "MrGAN-refined source",
              "after: align + AdaBN"][:n - 1] + ["after: DANN bottleneck (seed 0)"]
    return [(labels[i], rng.normal(size=(400, 2)), np.arange(400) % 2, 1.9 - 0.1 * i,
             [312.4, 48.25, 1234.5, 7.1][i % 4]) for i in range(n)]


def sample_grid_figure(tmp_path) -> plt.Figure:
    rows = []
    for c, color in zip(["dog", "cat", "bird"], [(200, 0, 0), (0, 0, 200), (0, 150, 0)]):
        for i in range(5):
            p = tmp_path / f"{c}{i}.png"
            Image.new("RGB", (64, 64), color).save(p)
            rows.append({"path": str(p), "label": c, "split": "train"})
    return sample_grid.plot(["dog", "cat", "bird"], rows, rows, 5,
                            *sample_grid.labels("diffusers"))


# Every figure main.tex includes, with how to draw it.
SUMMARY_FIGURES = {
    "accuracy_bars": accuracy_bars.plot,
    "all_methods": all_methods.plot,
    "confusion_matrices": confusion_matrices.plot,
    "pseudo_label_diagnostics": pseudo_label_diagnostics.plot,
    "threshold_sweep": threshold_sweep.plot,
}
OTHER_FIGURES = {"domain_gap", "sample_grid", "budgets", "pixel_pairs"}


def test_every_figure_of_the_paper_is_checked_here():
    assert set(printed_fractions()) == set(SUMMARY_FIGURES) | OTHER_FIGURES


@pytest.mark.parametrize("run", SUMMARIES)
@pytest.mark.parametrize("name", SUMMARY_FIGURES)
def test_summary_figures_are_legible_in_print(name, run):
    summary = SUMMARIES[run]()
    if name == "threshold_sweep" and run == "three variants":
        pytest.skip("a run without threshold-only variants has no sweep (main.tex omits it)")
    fig = SUMMARY_FIGURES[name](summary)
    assert problems(fig, printed_fractions()[name]) == []
    plt.close(fig)


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_domain_gap_is_legible_in_print(n):
    fig = domain_gap.plot(tsne_panels(n))
    assert problems(fig, printed_fractions()["domain_gap"]) == []
    plt.close(fig)


def budget_tracks() -> dict[str, dict]:
    """Labeled-budget tracks to draw: the default eight methods over six budgets (the longest
    legend, crossing marked), and the smallest (two budgets, two methods, no oracle)."""
    from synth2real.config.budgets import DEFAULT_METHODS

    rise = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    eight = {m: list(0.38 + 0.03 * k + rise * (1 - 0.05 * k))
             for k, m in enumerate(DEFAULT_METHODS)}
    return {"eight methods": {"curves": eight},
            "two budgets": {"per_class": [1, "all"], "oracle": False, "claims": [],
                            "curves": {"real-only": [0.40, 0.90], "bridged": [0.62, 0.90]}}}


@pytest.mark.parametrize("track", ["eight methods", "two budgets"])
def test_budgets_is_legible_in_print(tmp_path, track):
    fig = budgets.plot(make_budgets(tmp_path, **budget_tracks()[track]))
    assert problems(fig, printed_fractions()["budgets"]) == []
    plt.close(fig)


def test_sample_grid_is_legible_in_print(tmp_path):
    fig = sample_grid_figure(tmp_path)
    assert problems(fig, printed_fractions()["sample_grid"]) == []
    plt.close(fig)


@pytest.mark.parametrize("parts", [["fda"], ["cyclegan", "fda", "mrgan", "simgan"]])
def test_pixel_pairs_is_legible_in_print(tmp_path, parts):
    """One part (three columns an example) and all four (five), three classes."""
    tables = {p: pixel_pairs.read_csv(m) for p, m in zip(parts, fake_refined(tmp_path, parts))}
    fig = pixel_pairs.plot(pixel_pairs.images(tables, ["dog", "cat", "bird"], 2),
                           pixel_pairs.ordered(parts))
    assert problems(fig, printed_fractions()["pixel_pairs"]) == []
    plt.close(fig)


def test_pseudo_label_diagnostics_shows_one_row_per_variant_without_a_variant_legend():
    """The figure that carried a 17-entry legend: variants are rows, the legend names only the
    three rates, and each cell of the left panel prints its variant's count."""
    s = many_variants()
    fig = pseudo_label_diagnostics.plot(s)
    left, right = fig.axes[:2]
    names = [v for v in s["variants"] if "pseudo_label" in s["variants"][v]]
    assert [t.get_text() for t in left.get_yticklabels()] == names
    assert [t.get_text() for t in right.get_legend().get_texts()] == [
        "pool accepted", "out-of-domain accepted", "pseudo-label accuracy"]
    cells = {t.get_text() for t in left.texts}
    counts = s["variants"]["threshold-0.9"]["pseudo_label"]["accepted_per_class"]["cat"]
    assert f"{counts['mean']:.0f}±{counts['std']:.0f}" in cells
    plt.close(fig)
