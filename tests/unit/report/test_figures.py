"""Figures render through their rule entry point `make(<inputs>, pdf, png)`."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from synth2real.report import figures
from synth2real.report.figures import all_methods, domain_gap, pixel_pairs, sample_grid
from tests.unit.report.fakes import fake_refined, fake_summary


def _json(tmp_path, summary) -> str:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    return str(path)


def test_pseudo_label_diagnostics_renders(tmp_path):
    out = [tmp_path / "f.pdf", tmp_path / "f.png"]
    figures.make(_json(tmp_path, fake_summary()), *map(str, out), figure="pseudo_label_diagnostics")
    assert out[0].read_bytes()[:5] == b"%PDF-" and Image.open(out[1]).size[0] > 500


def test_pseudo_label_diagnostics_needs_a_pseudo_variant(tmp_path):
    s = fake_summary(variants=("synthetic-50", "synthetic-100"))
    with pytest.raises(ValueError, match="no variant"):
        figures.make(_json(tmp_path, s), str(tmp_path / "f.pdf"), str(tmp_path / "f.png"),
                     figure="pseudo_label_diagnostics")


def test_domain_gap_renders_one_panel_per_representation(tmp_path):
    rng = np.random.default_rng(0)
    panels = {}
    for i in range(2):
        panels |= {f"points_{i}": rng.normal(size=(20, 2)), f"domain_{i}": np.arange(20) % 2,
                   f"pad_{i}": np.float64(1.5 - i), f"frechet_{i}": np.float64(90.0 + i)}
    np.savez(tmp_path / "tsne.npz", labels=np.asarray(["before", "after"]), **panels)
    assert [p[0] for p in domain_gap.load(str(tmp_path / "tsne.npz"))] == ["before", "after"]
    out = [tmp_path / "d.pdf", tmp_path / "d.png"]
    domain_gap.make(str(tmp_path / "tsne.npz"), *map(str, out))
    assert out[0].read_bytes()[:5] == b"%PDF-" and Image.open(out[1]).size[0] > 500


def test_domain_gap_asks_for_a_rerun_of_an_npz_without_frechet_distances(tmp_path):
    np.savez(tmp_path / "tsne.npz", labels=np.asarray(["before"]), points_0=np.zeros((4, 2)),
             domain_0=np.arange(4) % 2, pad_0=np.float64(1.0))
    with pytest.raises(ValueError, match="rerun rule domain_embedding"):
        domain_gap.load(str(tmp_path / "tsne.npz"))


def test_domain_gap_lays_out_at_most_four_panels_a_row():
    assert [domain_gap.grid(n) for n in (1, 3, 4, 5, 6, 7, 8)] == [
        (1, 1), (1, 3), (1, 4), (2, 3), (2, 3), (2, 4), (2, 4)]
    assert domain_gap.title("before", 1.234, 56.78, 20) == "before\nPAD 1.23, Fréchet 56.8"
    assert domain_gap.title("before", 1.0, 1234.5, 20).endswith("Fréchet 1234")


def test_pixel_pairs_shows_the_first_training_images_by_rank_beside_each_part(tmp_path):
    """Columns: per example the original, then the parts in the figure's order (whatever the
    rule's order); rows: classes; the examples are the training rows of lowest rank; the
    original is shown at the refined image's side, through the refiners' `square`."""
    parts = ["cyclegan", "fda", "mrgan", "simgan"]  # PIXEL_PARTS: sorted
    paths = fake_refined(tmp_path, parts, classes=("dog", "cat"))
    tables = {p: pixel_pairs.read_csv(m) for p, m in zip(parts, paths)}
    assert pixel_pairs.pick(tables["fda"], "dog", 2) == [
        str(tmp_path / "source" / "dog" / f"{r}.png") for r in (1, 2)]
    shown = pixel_pairs.images(tables, ["dog", "cat"], 2)
    assert list(shown) == ["dog", "cat"] and [len(v) for v in shown.values()] == [2, 2]
    assert all(im.shape == (32, 32, 3) for ex in shown["dog"] for im in ex)
    assert len(shown["dog"][0]) == 5
    fda = np.asarray(Image.open(tmp_path / "pixel" / "fda" / "dog" / "1.png"))
    assert np.array_equal(shown["dog"][0][1], fda)  # FDA is the first part's column
    fig = pixel_pairs.plot(shown, pixel_pairs.ordered(parts))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["original", "FDA", "SimGAN", "CycleGAN", "MrGAN"] * 2
    assert fig.axes[0].get_ylabel() == "dog"
    out = [tmp_path / "p.pdf", tmp_path / "p.png"]
    pixel_pairs.make(paths, *map(str, out), parts=parts, classes=["dog", "cat"])
    assert out[0].read_bytes()[:5] == b"%PDF-" and Image.open(out[1]).size[0] > 500
    with pytest.raises(ValueError, match="only 3 training images of class 'dog'"):
        pixel_pairs.images(tables, ["dog"], 4)
    with pytest.raises(ValueError, match="one refined manifest per pixel part"):
        pixel_pairs.make(paths[:1], *map(str, out), parts=parts, classes=["dog"])


def test_pixel_pairs_draws_only_the_parts_the_study_runs(tmp_path):
    paths = fake_refined(tmp_path, ["simgan", "fda"], classes=("dog",))
    out = [tmp_path / "p.pdf", tmp_path / "p.png"]
    tables = {p: pixel_pairs.read_csv(m) for p, m in zip(["simgan", "fda"], paths)}
    fig = pixel_pairs.plot(pixel_pairs.images(tables, ["dog"], 2), ["fda", "simgan"])
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["original", "FDA",
                                                                      "SimGAN"] * 2
    pixel_pairs.make(paths, *map(str, out), parts=["simgan", "fda"], classes=["dog"])
    with pytest.raises(ValueError, match="no pixel part"):
        pixel_pairs.ordered(["fda", "style-transfer"])


def _manifest(path, rows, fields):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def test_sample_grid_picks_train_images_in_manifest_order(tmp_path):
    classes = ["dog", "cat"]
    src, test = [], []
    for c, color in zip(classes, [(200, 0, 0), (0, 0, 200)]):
        for i in range(3):
            p = tmp_path / f"{c}{i}.png"
            Image.new("RGB", (64 if i % 2 else 32, 64), color).save(p)
            src.append({"path": str(p), "label": c, "rank": i, "split": "val" if i == 0 else "train"})
            test.append({"path": str(p), "label": c})
    _manifest(tmp_path / "s.csv", src, ["path", "label", "rank", "split"])
    _manifest(tmp_path / "t.csv", test, ["path", "label"])
    rows = [dict(r, rank=str(r["rank"])) for r in src]
    assert sample_grid.pick(rows, "dog", 2, "train") == [str(tmp_path / "dog1.png"),
                                                          str(tmp_path / "dog2.png")]
    out = tmp_path / "grid.png"
    sample_grid.make(str(tmp_path / "s.csv"), str(tmp_path / "t.csv"), str(tmp_path / "grid.pdf"),
                     str(out), classes=classes, source_kind="folder", per_class=2)
    assert Image.open(out).size[1] > 100
    with pytest.raises(ValueError, match="only 2 images of class 'dog'"):
        sample_grid.make(str(tmp_path / "s.csv"), str(tmp_path / "t.csv"), str(tmp_path / "grid.pdf"),
                         str(out), classes=classes, source_kind="folder", per_class=3)
    assert sample_grid.labels("diffusers")[0] == "generated training images"


def test_threshold_sweep_picks_its_points_by_parts_not_by_name():
    from synth2real.report.figures import threshold_sweep
    from tests.unit.report.test_figures_legible import recorded_settings

    summary = fake_summary(("synthetic-100", "pseudo-label", "threshold-0.9", "conf-0.8",
                            "conf-0.6"))
    for name, settings in (("threshold-0.9", recorded_settings(0.9, rounds=3)),
                           ("conf-0.8", recorded_settings(0.8, rounds=1)),
                           ("conf-0.6", recorded_settings(0.6, rounds=1))):
        summary["variants"][name]["method"] = {"description": "", "settings": settings}
        summary["variants"][name]["pseudo_label"] = summary["variants"]["pseudo-label"]["pseudo_label"]
    def with_ci(node):  # the fake has no intervals; the sweep draws them
        if isinstance(node, dict):
            if "mean" in node:
                node.setdefault("ci95", [node["mean"] - 0.01, node["mean"] + 0.01])
            for v in node.values():
                with_ci(v)

    with_ci(summary)
    fig = threshold_sweep.plot(summary)
    xs = sorted({float(x) for ax in fig.axes for line in ax.get_lines()
                 if line.get_marker() == "o" for x in line.get_xdata()})  # not the baseline line
    assert xs == [0.6, 0.8]  # threshold-0.9 self-trains: not a sweep point, whatever its name
    summary["variants"] = {k: v for k, v in summary["variants"].items() if not k.startswith("conf")}
    with pytest.raises(ValueError, match="threshold-only"):
        threshold_sweep.plot(summary)


def test_a_gap_closure_far_below_source_only_is_marked_at_the_floor_with_its_value():
    s = fake_summary()
    s["gap_closure"]["pseudo-label"] = {"mean": -1.91, "ci95": [-2.29, -1.6]}
    right = all_methods.plot(s).axes[1]
    assert [t.get_text() for t in right.texts] == ["-191"]
    assert right.get_xlim()[0] >= all_methods.GAP_FLOOR - 8  # the others' scale is kept
    xs = [x for ln in right.get_lines() for x in ln.get_xdata()]
    assert min(xs) == all_methods.GAP_FLOOR


@pytest.mark.parametrize("oracle", [True, False])
def test_all_methods_draws_gap_closure_with_an_oracle_and_differences_without(tmp_path, oracle):
    s = fake_summary(oracle=oracle)
    fig = all_methods.plot(s)
    left, right = fig.axes[:2]
    labels = [t.get_text() for t in left.get_yticklabels()]
    # The fake's deploy criterion picks pseudo-label: named the deployed model.
    assert labels[-1] == ("oracle" if oracle else "pseudo-label (deployed)")
    assert [x for x in labels if x.endswith("(deployed)")] == ["pseudo-label (deployed)"]
    vlines = sorted(float(ln.get_xdata()[0]) for ln in right.get_lines()
                    if len(set(ln.get_xdata())) == 1 and len(ln.get_xdata()) == 2)
    if oracle:
        assert vlines == [0.0, 70.0, 100.0]  # the scale's ends, and the deployed model's aim
        gap = s["gap_closure"]["pseudo-label"]["mean"]
        assert "gap closed" in right.get_xlabel()
    else:
        assert vlines == [0.0]
        gap = next(c["bootstrap"]["mean"] for c in s["comparisons"] if c["a"] == "pseudo-label")
        assert "paired difference" in right.get_xlabel()
    xs = [x for ln in right.get_lines() for x in ln.get_xdata()]
    assert any(abs(x - 100 * gap) < 1e-9 for x in xs)
    out = [tmp_path / "m.pdf", tmp_path / "m.png"]
    figures.make(_json(tmp_path, s), *map(str, out), figure="all_methods")
    assert out[0].read_bytes()[:5] == b"%PDF-" and Image.open(out[1]).size[0] > 500
