"""Rule model_card: models/card.json (for programs and the demo) and models/README.md."""
from synth2real.report.model_card import model_card
from synth2real.smk import run

sm = snakemake  # noqa: F821
i = sm.input
run(sm, model_card, i.deploy, i.parity, i.onnx, sm.output.card, sm.output.readme)
