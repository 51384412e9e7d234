"""Snakemake profiles: the local default, and SLURM as a site profile plus the workflow profile.

The SLURM test plans the paper configuration with both profiles (`snakemake -n`, as a user
would run it), takes every planned job's resources as Snakemake resolved them, and has the
installed snakemake-executor-plugin-slurm build each job's `sbatch` command line from them
(its own `get_submit_command`, `set_gres_string`, account and partition selection; nothing
is submitted). Resource names are checked against the plugin's documented ones.
"""

from __future__ import annotations

import ast
import logging
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from synth2real.config import load_file
from tests.conftest import REPO, SNAKEMAKE, run_command

PROFILES = REPO / "profiles"
SITE = PROFILES / "slurm-site.example"
WORKFLOW = PROFILES / "slurm"
# The plugin's documented resources (the "Advanced Resource Specifications" table and the
# GPU section of https://snakemake.github.io/snakemake-plugin-catalog/plugins/executor/slurm.html;
# source: snakemake-executor-plugin-slurm docs/further.md).
DOCUMENTED = {"slurm_partition", "slurm_account", "runtime", "constraint", "mem", "mem_mb",
              "mem_mb_per_cpu", "tasks", "cpus_per_task", "nodes", "clusters", "slurm_extra",
              "gpu", "gpu_model", "gres", "cpus_per_gpu", "tasks_per_gpu", "qos"}
# Rules that need the network (downloads) or TeX: they must run on the submitting machine.
MUST_BE_LOCAL = {"real_download", "generator_model", "backbone", "paper"}
GPU_RULES = {"generate_shard", "features", "pixel_refine"}
REPORT_RULES = {"table", "data_card", "figure", "figure_domain_gap", "figure_sample_grid",
                "figure_pixel_pairs",
                "paper_inputs", "budget_table", "figure_budgets"}
# The training jobs' rules (one per training job of the config, defined in a loop in
# workflow/rules/adapt.smk) carry their own resources.
TRAINING = re.compile(r"train_\w+")


def _rules() -> set[str]:
    names: set[str] = set()
    for smk in [REPO / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk")]:
        # Indented too: a rule inside an `if` (the budget track's) is sized like any other.
        names |= set(re.findall(r"^\s*rule (\w+):", smk.read_text(), flags=re.MULTILINE))
    return names


def _training_resources() -> dict[str, int]:
    """The resources workflow/rules/adapt.smk gives every training job."""
    text = (REPO / "workflow" / "rules" / "adapt.smk").read_text()
    m = re.search(r"^TRAINING_RESOURCES = (\{.*\})$", text, flags=re.MULTILINE)
    assert m, "adapt.smk declares no TRAINING_RESOURCES"
    return ast.literal_eval(m[1])


def _localrules() -> set[str]:
    block = re.search(r"^localrules:\n((?:    \w+,?\n)+)", (REPO / "Snakefile").read_text(),
                      flags=re.MULTILINE)
    assert block, "the Snakefile has no localrules: block"
    return {w.strip(" ,") for w in block[1].splitlines()}


def test_local_profile_is_the_default_of_make_and_the_container():
    cfg = yaml.safe_load((PROFILES / "local" / "config.yaml").read_text())
    assert cfg["cores"] == "all" and "executor" not in cfg
    assert "PROFILE ?= profiles/local" in (REPO / "Makefile").read_text()
    assert "--workflow-profile /app/profiles/local" in (REPO / "docker" / "entrypoint.sh").read_text()


def test_site_settings_and_rule_resources_live_in_separate_profiles():
    site = yaml.safe_load((SITE / "config.yaml").read_text())
    flow = yaml.safe_load((WORKFLOW / "config.yaml").read_text())
    assert site["executor"] == "slurm" and "slurm_account" in site["default-resources"]
    assert (SITE / site["slurm-partition-config"]).is_file()
    # A workflow-profile key replaces the site profile's whole key: none of the site's here.
    assert not set(flow) & (set(site) - {"conda-not-block-search-path-envvars"}), set(flow) & set(site)
    assert set(flow) <= {"set-resources", "set-threads", "groups", "group-components",
                         "conda-not-block-search-path-envvars"}
    rules = _rules()
    for section in ("set-resources", "set-threads", "groups"):
        assert not set(flow[section]) - rules, f"{section} names rules the workflow lacks"
    used = {k for res in flow["set-resources"].values() for k in res} | set(site["default-resources"])
    assert used <= DOCUMENTED, f"not documented by the SLURM plugin: {used - DOCUMENTED}"
    # The GPU rules ask for a GPU, nothing else does; threads match the CPUs a job gets.
    assert {r for r, res in flow["set-resources"].items() if res.get("gpu")} == GPU_RULES
    for rule, n in flow["set-threads"].items():
        assert flow["set-resources"][rule]["cpus_per_task"] == n, rule
    # Every job-running rule is sized here; the local ones need not be.
    assert rules - _localrules() <= set(flow["set-resources"]), rules - _localrules() - set(flow["set-resources"])


def test_downloads_and_the_latex_build_are_local_rules():
    assert MUST_BE_LOCAL | {"all"} == _localrules()


def test_report_rules_are_one_group_job_and_local_rules_in_none():
    groups = yaml.safe_load((WORKFLOW / "config.yaml").read_text())["groups"]
    assert set(groups) == REPORT_RULES and set(groups.values()) == {"report"}
    assert not _localrules() & set(groups)


# --- the sbatch command lines --------------------------------------------------------------

class Resources(dict):
    """Job resources as the plugin reads them: `.get(name)` and attribute access."""

    __getattr__ = dict.__getitem__


def _value(text: str) -> object:
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _planned_jobs(tmp: Path) -> tuple[list[SimpleNamespace], list[set[str]]]:
    """Every job of the paper config's plan with both profiles (rule, resources), and the
    rules of each group job."""
    proc = run_command(
        [SNAKEMAKE, "-n", "--snakefile", REPO / "Snakefile", "--directory", tmp,
         "--profile", SITE, "--workflow-profile", WORKFLOW,
         "--configfile", REPO / "config" / "paper.yaml"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    jobs, groups, group = [], [], None
    rule = None
    for line in proc.stdout.splitlines():
        if "Group job " in line:
            group = set()
            groups.append(group)
        elif m := re.match(r"^( *)rule (\w+):", line):
            rule = m[2]
            if not m[1]:
                group = None
            elif group is not None:
                group.add(rule)
        elif rule and (m := re.match(r"^ *resources: (.*)$", line)):
            res = Resources()
            for item in m[1].split(", "):
                key, _, val = item.partition("=")
                if val != "<TBD>":
                    res[key] = _value(val)
            jobs.append(SimpleNamespace(name=rule, resources=res, threads=1,
                                        is_group=lambda: False))
            rule = None
    return jobs, groups


def _sbatch(job: SimpleNamespace, monkeypatch) -> str:
    """The plugin's sbatch command for `job`, with the site example's account and partitions."""
    import snakemake_executor_plugin_slurm as plugin
    from snakemake_executor_plugin_slurm.partitions import read_partition_file
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    # Account validation asks sacctmgr; here every account is valid as given.
    monkeypatch.setattr(plugin, "validate_account", lambda account, logger: account)
    site = yaml.safe_load((SITE / "config.yaml").read_text())
    executor = SimpleNamespace(
        _partitions=read_partition_file(SITE / site["slurm-partition-config"]),
        _fallback_partition=None, _fallback_account_arg=None,
        logger=logging.getLogger("slurm-plugin"))
    params = {"run_uuid": "run", "slurm_logfile": "log", "comment_str": f"rule_{job.name}",
              "account": next(plugin.Executor.get_account_arg(executor, job)),
              "partition": plugin.Executor.get_partition_arg(executor, job), "workdir": "/run"}
    return get_submit_command(job, params) + set_gres_string(job)


def _options(call: str) -> dict[str, str]:
    words, opts = shlex.split(call)[1:], {}
    for i, w in enumerate(words):
        if w.startswith("-"):
            key, eq, val = w.partition("=")
            nxt = words[i + 1] if i + 1 < len(words) else ""
            opts[key] = val if eq else ("" if nxt.startswith("-") else nxt)
    return opts


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    return _planned_jobs(tmp_path_factory.mktemp("slurm-plan"))


def test_sbatch_arguments_of_every_planned_job(planned, monkeypatch):
    jobs, _ = planned
    flow = yaml.safe_load((WORKFLOW / "config.yaml").read_text())["set-resources"]
    site = yaml.safe_load((SITE / "config.yaml").read_text())["default-resources"]
    partitions = yaml.safe_load((SITE / "partitions.yaml").read_text())["partitions"]
    cpu_part, gpu_part = (next(n for n, p in partitions.items() if (p["max_gpu"] > 0) == g)
                          for g in (False, True))
    submitted = [j for j in jobs if j.name not in _localrules()]
    training = {j.name for j in submitted if TRAINING.fullmatch(j.name)}
    # the paper plan has them all, and a training job per training job of the config
    assert {j.name for j in submitted} - training == _rules() - _localrules()
    assert len(training) == len(load_file(REPO / "config" / "paper.yaml").training_jobs())
    from_rule = _training_resources()
    for job in submitted:
        opts = _options(_sbatch(job, monkeypatch))
        want = {**site, **(from_rule if job.name in training else flow[job.name])}
        gpu = job.name in GPU_RULES
        assert opts["-A"] == site["slurm_account"], job.name
        assert opts["-p"] == (gpu_part if gpu else cpu_part), job.name
        assert opts["-t"] == str(want["runtime"]) and opts["--mem"] == str(want["mem_mb"]), job.name
        assert opts["--cpus-per-task"] == str(want["cpus_per_task"]), job.name
        assert opts.get("--gpus") == ("1" if gpu else None), job.name
        # One task per job: the plugin sets --ntasks for CPU jobs; GPU jobs get their task count
        # from the GPU request.
        assert opts.get("--ntasks") == (None if gpu else "1"), job.name
        assert set(opts) <= {"--parsable", "--job-name", "--output", "--export", "--comment",
                             "-A", "-p", "-t", "--mem", "--cpus-per-task", "--ntasks", "--gpus",
                             "-D"}, job.name
    counts = {r: sum(j.name == r for j in submitted) for r in GPU_RULES}
    print(f"sbatch checked for {len(submitted)} jobs of {len({j.name for j in submitted})} rules; "
          f"GPU jobs: {counts}")


def test_report_rules_are_submitted_as_one_group_job(planned):
    _, groups = planned
    assert len(groups) == 1 and groups[0] == REPORT_RULES
