"""Rule domain_embedding: 2-D t-SNE of source vs target features, before and after adaptation."""
from synth2real import smk, steps

sm = snakemake  # noqa: F821
pairs = {k: tuple(v) for k, v in sm.params.pairs.items()}
smk.run(sm, steps.domain_embedding, pairs, sm.input.dann[0] if sm.input.dann else None,
        sm.input.source, sm.output.npz)
