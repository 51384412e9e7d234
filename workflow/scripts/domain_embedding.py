"""Rule domain_embedding: 2-D t-SNE of source vs target features, before and after adaptation."""
from synth2real.analysis.embedding import domain_embedding
from synth2real.smk import run

sm = snakemake  # noqa: F821
run(sm, domain_embedding, sm.input.source, list(sm.input.dann), sm.output.npz)
