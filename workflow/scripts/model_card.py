"""Rule model_card: models/card.json (for programs and the demo) and models/README.md."""
from synth2real.report.model_card import model_card
from synth2real.smk import run

run(snakemake, model_card)  # noqa: F821
