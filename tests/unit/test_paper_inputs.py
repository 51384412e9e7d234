"""The paper's generated inputs: macros, reported-vs-reproduced table, run times, offline notice."""

from __future__ import annotations

import re
import statistics

import pytest

from synth2real.report import paper


def _stat(values: dict[str, float]) -> dict:
    v = list(values.values())
    return {"mean": statistics.mean(v), "std": statistics.stdev(v) if len(v) > 1 else 0.0,
            "per_seed": values}


def fake_summary(variants=("synthetic-50", "synthetic-100", "pseudo-label"), offline=True) -> dict:
    """Variant k has real-test accuracy 0.51 + 0.1 k (seeds 0.50/0.52 shifted by 0.1 k)."""
    classes = ["dog", "cat", "bird"]
    out = {}
    for k, v in enumerate(variants):
        out[v] = {f"{split}_acc": _stat({"0": 0.5 + 0.1 * k + d, "1": 0.52 + 0.1 * k + d})
                  for split, d in (("train", 0.3), ("val", 0.2), ("test", 0.0))}
        out[v]["per_class_test_acc"] = {c: _stat({"0": 0.6, "1": 0.7}) for c in classes}
        out[v]["confusion"] = {"total": [[2, 0, 0], [0, 2, 0], [0, 0, 2]], "per_seed": {}}
        if v == "pseudo-label":
            out[v]["pseudo_label"] = {
                "threshold": 0.51, "accepted": _stat({"0": 90.0, "1": 94.0}),
                "accepted_share": _stat({"0": 0.9, "1": 0.94}),
                "pseudo_label_acc": _stat({"0": 0.57, "1": 0.59}),
                "ood_accepted_share": _stat({"0": 0.8, "1": 0.85}),
                "accepted_per_class": {c: _stat({"0": 30.0, "1": 31.0}) for c in classes},
                "per_seed": {},
            }
    return {"study": "demo_study", "classes": classes, "seeds": [0, 1], "offline": offline,
            "reported": {"synthetic-100": {"train_acc": 0.99, "val_acc": 0.99, "test_acc": 0.80},
                         "pseudo-label": {"train_acc": 0.98, "val_acc": 0.99, "test_acc": 0.90}},
            "variants": out}


@pytest.fixture
def prov(bundle) -> dict:
    from synth2real.config import load_file
    from tests.conftest import REPO

    cfg = load_file(REPO / "config" / "offline.yaml", {"bundle": str(bundle)})
    return {"git_commit": "abc123", "config_hash": "h", "created": "2026-01-01T00:00:00",
            "platform": "Linux", "versions": {"python": "3.11.7", "torch": "2.15.0"},
            "hardware": {"cpu": "Test CPU", "cores": 2, "memory_gb": 8.0, "gpus": []},
            "config": cfg.model_dump(mode="json")}


def test_numbers_cover_every_variant_and_role(prov):
    n = paper.numbers(fake_summary(), prov, {"features": 75.0}, {"test": 30}, "make reproduce")
    assert n["acc/synthetic-50/test/mean"] == "51.00" and n["acc/pseudo-label/test/mean"] == "71.00"
    # Roles alias the smallest/largest baseline and the adapted model.
    assert n["acc/small/test/mean"] == "51.00" and n["acc/large/test/mean"] == "61.00"
    assert n["acc/large/test/std"] == "1.41"
    assert n["rep/large/test"] == "80.00" and n["diff/large/test"] == "$-$19.00"
    assert "rep/small/test" not in n  # nothing published for synthetic-50
    assert n["delta/adapted-large/test"] == "+10.00"
    assert n["verdict/adapted-large"] == "higher in all 2 seeds"
    assert n["pl/adapted/pseudo-label-acc"] == "58.00"
    assert n["time/features"] == "1:15" and n["count/test"] == "30"
    assert n["study"] == r"demo\_study" and n["hw/cpu"] == "Test CPU"
    assert n["lr"] == "0.001" and n["threshold"] == "0.51"


def test_a_new_method_appears_without_code_changes(prov):
    s = fake_summary(variants=("synthetic-50", "synthetic-100", "pseudo-label", "dann"))
    n = paper.numbers(s, prov, {}, {}, "cmd")
    assert n["acc/dann/test/mean"] == "81.00" and n["best/variant"] == r"\texttt{dann}"
    table = paper.reported_vs_reproduced_tex(s)
    assert "dann" not in table  # nothing published to compare with
    assert table.count(r"\multirow{3}") == 2


def test_mixed_seed_verdict():
    assert paper.paired_verdict({"0": 0.5, "1": 0.6}, {"0": 0.6, "1": 0.5}) == \
        "higher in 1 of 2 seeds, so not a consistent change"
    assert paper.paired_verdict({"0": 0.5, "1": 0.6}, {"0": 0.4, "1": 0.5}) == "lower in all 2 seeds"


def test_reported_vs_reproduced_table_has_difference():
    table = paper.reported_vs_reproduced_tex(fake_summary())
    # synthetic-100 test: 61.00 +- 1.41 reproduced vs 80.00 published.
    assert re.search(r"real test & 80\.00 & \$61\.00 \\pm 1\.41\$ & \$-\$19\.00", table)


def test_numbers_tex_offline_switch_and_notice(prov):
    tex_on = paper.numbers_tex({"a/b": "1"}, True, paper.offline_notice(prov["config"]))
    assert r"\offlinetrue" in tex_on and "Tiny-ImageNet" in tex_on and "CIFAR-10" in tex_on
    assert "not the synthetic-to-real figures" in tex_on
    assert r"\@namedef{s2r@a/b}{1}" in tex_on
    assert r"\offlinefalse" in paper.numbers_tex({"a/b": "1"}, False, "")
    with pytest.raises(ValueError, match="LaTeX cannot name"):
        paper.numbers_tex({"bad key{": "1"}, True, "")


def test_benchmarks_sum_per_stage(tmp_path):
    header = "s\th:m:s\tmax_rss\n"
    (tmp_path / "a.tsv").write_text(header + "10.5\t0:00:10\t1\n")
    (tmp_path / "b.tsv").write_text(header + "20.0\t0:00:20\t1\n30.0\t0:00:30\t1\n")
    secs = paper.stage_seconds({"features": [tmp_path / "a.tsv", tmp_path / "b.tsv"], "none": []})
    assert secs == {"features": pytest.approx(35.5)}  # b: mean of its two repeats
    assert paper.hms(3725) == "1:02:05" and paper.hms(65) == "1:05"
    (tmp_path / "bad.tsv").write_text("x\ty\n1\t2\n")
    with pytest.raises(ValueError, match="not a Snakemake benchmark"):
        paper.read_benchmark(tmp_path / "bad.tsv")


def test_tex_escapes_specials():
    assert paper.tex("a_b & 50% #1") == r"a\_b \& 50\% \#1"


def _keys_in_main_tex() -> set[str]:
    from tests.conftest import REPO

    text = (REPO / "paper" / "main.tex").read_text()
    body = re.sub(r"(?<!\\)%.*", "", text)  # drop comments, keep \%
    return set(re.findall(r"\\Num\{([^}]+)\}", body))


@pytest.mark.parametrize("variants", [
    ("synthetic-50", "synthetic-100", "pseudo-label"),        # sizes without published values
    ("synthetic-500", "synthetic-1000", "pseudo-label"),      # the published sizes
])
def test_every_number_main_tex_quotes_is_generated(prov, variants):
    """A key main.tex uses but the generator lacks would be a LaTeX error in that configuration."""
    s = fake_summary(variants=variants)
    s["reported"] = {v: r for v, r in paper_reported().items() if v in variants}
    counts = {"test": 30, "pool": 40, "pool/ood": 4}
    for v in variants[:2]:  # what manifest_counts gives for each synthetic set
        counts |= {f"{v}/train": 8, f"{v}/val": 2}
    n = paper.numbers(s, prov, {"features": 1.0}, counts, "c")
    missing = _keys_in_main_tex() - set(n)
    assert not missing, f"main.tex quotes numbers the generator does not write: {sorted(missing)}"
    if "synthetic-500" in variants:
        assert n["text/published-abstract"] == r"the study reported 87.43\,\% and 91.62\,\% from a single run"
    else:
        assert "no values" in n["text/published-abstract"]


def paper_reported() -> dict:
    from synth2real.analysis.summary import REPORTED

    return REPORTED
