# synth2real: synthetic-to-real image classification, the whole study.
#
#   snakemake --cores 2                                   # paper config (GPU + network)
#   snakemake --cores 2 --configfile config/offline.yaml --config bundle=<dir>
#
# This file is the table of contents; each stage lives in workflow/rules/, and
# every rule's script calls one function of the `synth2real` package (src/).
# Outputs go to runs/<config name>/ (or to --directory, when given), so two
# configurations never overwrite each other's results.

import os
import re
import sys

# synth2real comes from this checkout, whatever Python runs a job: the .venv,
# a conda env of envs/ (which pins only third-party packages, see
# synth2real.tools.envs) or a cluster node. Jobs inherit PYTHONPATH; the profiles set
# conda-not-block-search-path-envvars so conda jobs keep it.
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
# (Set, not required: `envvars:` would demand the user define it.)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p))

from synth2real.smk import validate

# A --configfile replaces the default instead of being merged into it: the
# two configs use different source kinds whose keys must not mix.
if not workflow.overwrite_configfiles:
    configfile: "config/paper.yaml"


# Stop before any work on an invalid config, naming every bad key.
CFG = validate(config)

# Run from the checkout, each configuration gets its own output root; a
# --directory, or another working directory, is used as given. (Cluster jobs
# start in the run's root, so they never move again.)
if os.path.samefile(os.getcwd(), workflow.basedir):

    workdir: os.path.join(workflow.basedir, "runs", CFG.name)


include: "workflow/rules/common.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/pixel.smk"
include: "workflow/rules/adapt.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"


# On a cluster these run on the submitting machine, not as jobs: downloads (compute nodes
# often have no network) and the LaTeX build (TeX is installed there by `make system-deps`).
localrules:
    all,
    real_download,
    generator_model,
    backbone,
    paper,


rule all:
    input:
        "results/summary.json",
        REPORT_OUTPUTS,
        MODEL_OUTPUTS,
