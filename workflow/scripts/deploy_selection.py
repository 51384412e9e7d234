"""Rule deploy_selection: which variant each deployed model is, with its accuracy and interval."""
from synth2real.report.model_card import deploy_selection
from synth2real.smk import run

sm = snakemake  # noqa: F821
run(sm, deploy_selection, sm.input.summary, sm.input.test, sm.input.metrics, sm.output[0])
