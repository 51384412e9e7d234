# Stage: the deployable ONNX classifiers (baseline = the pseudo-label source
# model, adapted = pseudo-label) of seed export.seed, parity-checked against
# PyTorch on the whole real test set before they are published.

EXPORT_SEED = CFG.export.seed
EXPORT_VARIANTS = {"baseline": CFG.pseudo_source_variant, "adapted": "pseudo-label"}

MODEL_OUTPUTS = [
    "models/baseline.onnx",
    "models/adapted.onnx",
    "models/parity.json",
]


rule export_onnx:
    input:
        backbone="results/backbone/backbone.json",
        test="results/data/real_test.csv",
        heads=[f"results/heads/{v}/seed{EXPORT_SEED}/head.pt" for v in EXPORT_VARIANTS.values()],
        metrics=[f"results/heads/{v}/seed{EXPORT_SEED}/metrics.json" for v in EXPORT_VARIANTS.values()],
    output:
        baseline="models/baseline.onnx",
        adapted="models/adapted.onnx",
        report="models/parity.json",
    params:
        variants=EXPORT_VARIANTS,
        export=config["export"],
        features=config["features"],
        classes=config["classes"],
        name=config["name"],
    threads: workflow.cores
    log:
        "results/logs/export/export_onnx.log",
    benchmark:
        "results/benchmarks/export/export_onnx.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/export_onnx.py"
