"""The data card of the generated images: per-class counts, settings, csv/md/tex."""

from __future__ import annotations

import pytest
import yaml

from synth2real import config
from synth2real.data.manifests import write_csv
from synth2real.errors import ConfigError
from synth2real.report import data_card
from tests.conftest import REPO


def _manifest_row(cls: str, i: int, guidance: float, blanked: str = "") -> dict[str, str]:
    return {"class": cls, "index": str(i), "prompt": f"a photo of a {cls}", "guidance": str(guidance),
            "blanked_seeds": blanked, "seconds": "0.5", "model": "m/sd", "revision": "main",
            "commit": "abc123def4567890", "scheduler": "dpm-multistep", "steps": "25",
            "width": "512", "height": "512", "dtype": "float16", "negative_prompt": "",
            "device": "cuda:0"}


def test_data_card_counts_and_formats():
    raw = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    cfg = config.load(raw)
    rows = [_manifest_row("dog", i, 7.5) for i in range(4)]
    rows += [_manifest_row("cat", i, 3.0 + i, "11 22" if i == 1 else "") for i in range(3)]
    table = data_card.class_rows(rows, ["dog", "cat"])
    assert [r["class"] for r in table] == ["dog", "cat", "all"]
    assert [r["images"] for r in table] == [4, 3, 7]
    assert [r["safety_retries"] for r in table] == [0, 2, 2]
    assert (table[1]["guidance_min"], table[1]["guidance_max"]) == (3.0, 5.0)
    md = data_card.to_markdown(cfg.synthetic, table)
    assert "| dog | 4 | 1 | 7.5 | 0 |" in md
    assert "commit abc123def456" in md and "dpm-multistep, 25 steps" in md
    tex = data_card.to_latex(cfg.synthetic, table)
    assert r"\begin{tabular}" in tex and "3-5 per image" in tex and "dpm-multistep" in tex
    csv_text = data_card.to_csv(table)
    assert csv_text.splitlines()[0].split(",") == data_card.CSV_FIELDS
    assert len(csv_text.splitlines()) == 4


def test_data_card_rule_writes_three_files_and_needs_generated_images(tmp_path):
    cfg = config.load(yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))
    rows = [_manifest_row("dog", i, 7.5) for i in range(2)]
    write_csv(tmp_path / "manifest.csv", rows, list(rows[0]))
    out = [str(tmp_path / "card" / f"data_card.{e}") for e in ("csv", "md", "tex")]
    data_card.write(str(tmp_path / "manifest.csv"), *out, classes=["dog"], synthetic=cfg.synthetic)
    assert "| dog | 2 | 1 | 7.5 | 0 |" in (tmp_path / "card" / "data_card.md").read_text()
    folder = cfg.synthetic.model_copy(update={"source": config.FolderImages(kind="folder", root="x")})
    with pytest.raises(ConfigError, match="describes generated images"):
        data_card.settings(folder, data_card.class_rows(rows, ["dog"])[-1])
