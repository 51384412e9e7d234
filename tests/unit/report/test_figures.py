"""Figures render through their rule entry point `make(<inputs>, pdf, png)`."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from synth2real.report import figures
from synth2real.report.figures import all_methods, domain_gap, sample_grid
from tests.unit.report.fakes import fake_summary


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
                   f"pad_{i}": np.float64(1.5 - i)}
    np.savez(tmp_path / "tsne.npz", labels=np.asarray(["before", "after"]), **panels)
    assert [p[0] for p in domain_gap.load(str(tmp_path / "tsne.npz"))] == ["before", "after"]
    out = [tmp_path / "d.pdf", tmp_path / "d.png"]
    domain_gap.make(str(tmp_path / "tsne.npz"), *map(str, out))
    assert out[0].read_bytes()[:5] == b"%PDF-" and Image.open(out[1]).size[0] > 500


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
