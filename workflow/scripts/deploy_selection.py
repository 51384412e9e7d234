"""Rule deploy_selection: which variant each deployed model is, with its accuracy and interval."""
from synth2real.report.model_card import deploy_selection
from synth2real.smk import run

run(snakemake, deploy_selection)  # noqa: F821
