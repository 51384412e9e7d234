# Stage: the deployable ONNX classifiers of seed export.seed and their model card.
#
#   deploy_selection  which variant plays each role -- baseline (the pseudo-label source
#                     model), study (pseudo-label), adapted (picked by
#                     evaluation.deploy_criterion in results/summary.json) -- with each
#                     one's test accuracy and interval
#   export_onnx       those three heads + backbone to ONNX, parity-checked on the whole
#                     real test set before they are published
#   model_card        models/card.json (read by the demo) and models/README.md
#
# The adapted variant is known only once the summary exists, so the export takes the
# heads of every candidate variant (all trained before the summary anyway) and picks
# among them in code; no checkpoint re-evaluation of the DAG is needed.

EXPORT_SEED = CFG.export.seed
EXPORT_CANDIDATES = [v for v in VARIANTS if v != CFG.oracle_variant]
# Feature kind of each candidate's target images: AdaBN variants deploy the AdaBN backbone.
EXPORT_TARGETS = {v: (METHODS[v].target if v in METHODS else "plain") for v in EXPORT_CANDIDATES}
EXPORT_KINDS = sorted(set(EXPORT_TARGETS.values()))
EXPORT_ROLES = ["baseline", "study", "adapted"]
# Backbone graphs of the non-plain kinds (the plain backbone is rebuilt from its weights).
TARGET_BACKBONES = {"adabn": "results/backbone/adabn.onnx"}


MODEL_OUTPUTS = [
    *[f"models/{role}.onnx" for role in EXPORT_ROLES],
    "models/parity.json",
    "models/card.json",
    "models/README.md",
]


rule deploy_selection:
    input:
        summary="results/summary.json",
        test="results/data/real_test.csv",
        metrics=of_seed(EXPORT_CANDIDATES, EXPORT_SEED, "metrics.json"),
    output:
        "results/deploy/models.json",
    params:
        candidates=EXPORT_CANDIDATES,
        baseline=CFG.pseudo_source_variant,
        classes=config["classes"],
        real=config["real"],
        evaluation=config["evaluation"],
        export=config["export"],
    log:
        "results/logs/export/deploy_selection.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/deploy_selection.py"


rule export_onnx:
    input:
        backbone="results/backbone/backbone.json",
        test="results/data/real_test.csv",
        deploy=rules.deploy_selection.output[0],
        heads=of_seed(EXPORT_CANDIDATES, EXPORT_SEED, "head.pt"),
        test_npz=[FEATURE_FILES[("real_test", k)] for k in EXPORT_KINDS],
        target_backbones=[TARGET_BACKBONES[k] for k in EXPORT_KINDS if k != "plain"],
    output:
        baseline="models/baseline.onnx",
        study="models/study.onnx",
        adapted="models/adapted.onnx",
        report="models/parity.json",
    params:
        candidates=EXPORT_CANDIDATES,
        kinds=EXPORT_KINDS,
        targets=EXPORT_TARGETS,
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


rule model_card:
    input:
        deploy=rules.deploy_selection.output[0],
        parity=rules.export_onnx.output.report,
        onnx=[f"models/{role}.onnx" for role in EXPORT_ROLES],
    output:
        card="models/card.json",
        readme="models/README.md",
    params:
        synthetic=config["synthetic"],
        backbone=config["backbone"],
    log:
        "results/logs/export/model_card.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/model_card.py"
