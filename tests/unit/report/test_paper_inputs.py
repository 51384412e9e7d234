"""Rule paper_inputs end to end: the four generated files from a run's summary, provenance,
manifests and benchmark files."""

from __future__ import annotations

import json
from pathlib import Path

from synth2real.data.manifests import (
    POOL_FIELDS,
    SOURCE_FIELDS,
    TARGET_FIELDS,
    TEST_FIELDS,
    write_csv,
)
from synth2real.report import paper_inputs
from tests.unit.report.fakes import fake_summary


def write_inputs(tmp_path: Path, prov: dict, **kw) -> list[Path]:
    """Rule paper_inputs on a fake run under `tmp_path` (`kw`: more of its arguments); returns
    numbers.tex, reported.tex, setup.tex, runtimes.tex."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "summary.json").write_text(json.dumps(fake_summary()))
    (tmp_path / "provenance.json").write_text(json.dumps(prov))
    write_csv(tmp_path / "source.csv", [{"path": f"s{i}", "label": "dog", "rank": i,
                                         "split": "val" if i % 5 == 0 else "train"}
                                        for i in range(10)], SOURCE_FIELDS)
    write_csv(tmp_path / "test.csv", [{"path": "t", "label": "dog"}] * 3, TEST_FIELDS)
    write_csv(tmp_path / "pool.csv", [{"path": f"p{i}", "true_label": "dog", "in_domain": i % 2}
                                      for i in range(4)], POOL_FIELDS)
    write_csv(tmp_path / "target.csv", [{"path": f"l{i}", "label": "dog",
                                         "split": "val" if i < 3 else "oracle"} for i in range(5)],
              TARGET_FIELDS)
    (tmp_path / "f.tsv").write_text("s\th:m:s\n75.0\t0:01:15\n")
    out = [tmp_path / "tables" / f"{n}.tex" for n in ("numbers", "reported", "setup", "runtimes")]
    paper_inputs.write(*(str(tmp_path / f) for f in ("summary.json", "provenance.json", "source.csv",
                                                       "test.csv", "pool.csv", "target.csv")),
                        *map(str, out), benchmarks={"features": [str(tmp_path / "f.tsv")]},
                        configfiles=[str(tmp_path / "repo" / "config" / "x.yaml")],
                        repo=str(tmp_path / "repo"), **kw)
    return out


def test_write_paper_inputs(tmp_path, prov):
    out = write_inputs(tmp_path, prov)
    numbers_tex, reported, setup, runtimes = (p.read_text() for p in out)
    assert r"\@namedef{s2r@count/pool/ood}{2}" in numbers_tex and r"\offlinetrue" in numbers_tex
    assert r"\@namedef{s2r@count/target-val}{3}" in numbers_tex
    assert r"\@namedef{s2r@count/oracle}{2}" in numbers_tex
    # The deploy pick's target-val accuracy 0.5 on 3 photos: a standard error of 28.9 points.
    assert "about 28.9 points" in numbers_tex
    assert r"\@namedef{s2r@command}{\texttt{make reproduce CONFIG=config/x.yaml BUNDLE=<bundle>}}" \
        in numbers_tex
    assert "80.00" in reported and "feature engine" in setup and "1:15" in runtimes


def test_manifest_counts_and_command_line(tmp_path):
    write_csv(tmp_path / "s.csv", [{"path": f"s{i}", "label": "dog", "rank": i % 4,
                                    "split": "val" if i % 4 == 0 else "train"} for i in range(8)],
              SOURCE_FIELDS)
    write_csv(tmp_path / "t.csv", [{"path": "t", "label": "dog"}], TEST_FIELDS)
    write_csv(tmp_path / "p.csv", [{"path": "p", "true_label": "dog", "in_domain": 0}], POOL_FIELDS)
    write_csv(tmp_path / "l.csv", [{"path": "l", "label": "dog", "split": "oracle"}], TARGET_FIELDS)
    counts = paper_inputs.manifest_counts(*(str(tmp_path / f) for f in ("s.csv", "t.csv", "p.csv",
                                                                         "l.csv")), sizes=[2, 4])
    assert counts == {"synthetic-2/train": 2, "synthetic-2/val": 2, "synthetic-4/train": 6,
                      "synthetic-4/val": 2, "test": 1, "pool": 1, "pool/ood": 1, "target-val": 0,
                      "oracle": 1}
    assert paper_inputs.command_line([], None, Path(tmp_path)) == "make reproduce"
    assert paper_inputs.command_line(["/elsewhere/c.yaml"], None, Path(tmp_path)) == \
        "make reproduce CONFIG=/elsewhere/c.yaml"
