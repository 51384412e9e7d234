"""Rule paper_numbers: every number the paper quotes, as LaTeX macros and small tables."""
from synth2real import smk
from synth2real.report import paper

sm = snakemake  # noqa: F821
i = sm.input
smk.run(sm, paper.write_paper_inputs, i.summary, i.provenance, sm.params.stages, list(i.manifests),
        sm.params.configfiles, sm.params.repo, dict(sm.output.items()))
