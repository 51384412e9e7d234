"""Snakemake profiles: valid YAML naming real rules; SLURM gives the GPU rules a GPU."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

PROFILES = REPO / "profiles"


def _rules() -> set[str]:
    names: set[str] = set()
    for smk in [REPO / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk")]:
        names |= set(re.findall(r"^rule (\w+):", smk.read_text(), flags=re.MULTILINE))
    return names


def test_local_profile_is_the_default_of_make_and_the_container():
    cfg = yaml.safe_load((PROFILES / "local" / "config.yaml").read_text())
    assert cfg["cores"] == "all" and "executor" not in cfg
    assert "PROFILE ?= profiles/local" in (REPO / "Makefile").read_text()
    assert "--workflow-profile /app/profiles/local" in (REPO / "docker" / "entrypoint.sh").read_text()


def test_slurm_profile_resources():
    cfg = yaml.safe_load((PROFILES / "slurm" / "config.yaml").read_text())
    assert cfg["executor"] == "slurm"
    default = cfg["default-resources"]
    assert default["runtime"] > 0 and default["mem_mb"] > 0
    per_rule = cfg["set-resources"]
    unknown = (set(per_rule) | set(cfg.get("set-threads", {}))) - _rules()
    assert not unknown, f"profile names rules the workflow does not have: {unknown}"
    for rule in ("generate_shard", "features"):
        assert per_rule[rule]["gpu"] == 1, rule
    for rule, res in per_rule.items():
        assert res["runtime"] > 0 and res["mem_mb"] > 0, rule
