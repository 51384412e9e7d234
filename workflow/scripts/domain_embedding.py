"""Rule domain_embedding: 2-D t-SNE of source vs target features, before and after adaptation."""
from synth2real.analysis.embedding import domain_embedding
from synth2real.smk import run

run(snakemake, domain_embedding)  # noqa: F821
