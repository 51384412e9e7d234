# Stage: the frozen backbone, its features of every image set (computed once per image),
# and the deployable ONNX classifiers (synth2real.model).


rule backbone:
    output:
        onnx="results/backbone/backbone.onnx",
        info="results/backbone/backbone.json",
    params:
        backbone=config["backbone"],
        # The export's opset and the parity tolerance of the features it will give.
        features=config["features"],
        export=config["export"],
    log:
        "results/logs/backbone/backbone.log",
    benchmark:
        "results/benchmarks/backbone/backbone.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/backbone.py"


# One thread each: two feature jobs side by side extract more images per second on two
# cores than one job with two threads (image decoding is serial; see `make bench`).
rule features:
    input:
        manifest=manifest("{imageset}"),
        backbone=rules.backbone.output.info,
        onnx=rules.backbone.output.onnx,
    output:
        npz=features("{imageset}", "plain"),
        stats="results/features/plain/{imageset}.stats.json",
        # The last block's inputs from the same pass, when a model trains that block.
        **({"block_npz": features("{imageset}", "block")} if BLOCK else {}),
    params:
        features=config["features"],
    resources:
        gpu=0,
    log:
        "results/logs/features/{imageset}.log",
    benchmark:
        "results/benchmarks/features/{imageset}.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/features.py"


# The deployable classifiers of seed export.seed, one file per role (see report.smk,
# deploy_selection): baseline (the pseudo-labels' source model), study (pseudo-label),
# adapted (picked by evaluation.deploy_criterion). The export takes the heads of every
# candidate variant (all trained before the summary anyway) and picks among them in code,
# and checks each file against the PyTorch head on the whole real test set.
EXPORT_SEED = CFG.export.seed
EXPORT_ROLES = ["baseline", "study", "adapted"]
EXPORT_CANDIDATES = [v for v, spec in VARIANTS.items() if spec.label_free]
# The feature kind of each candidate's target images: AdaBN variants deploy the AdaBN backbone,
# block models the plain one up to their trained last block.
EXPORT_KINDS = {v: VARIANTS[v].feature_kinds["real_test"] for v in EXPORT_CANDIDATES}
MODEL_OUTPUTS = [
    *[f"models/{role}.onnx" for role in EXPORT_ROLES],
    "models/parity.json",
    "models/card.json",
    "models/README.md",
]


rule export_onnx:
    input:
        backbone=rules.backbone.output.info,
        real_test=manifest("real_test"),
        deploy="results/deploy/models.json",
        heads=of_seed(EXPORT_CANDIDATES, EXPORT_SEED, "head.pt"),
        test_features=[features("real_test", k) for k in sorted(set(EXPORT_KINDS.values()))],
        # The AdaBN backbone graph, when a candidate deploys with it.
        **({"adabn_backbone": "results/backbone/adabn.onnx"} if "adabn" in EXPORT_KINDS.values() else {}),
        # The plain backbone graph: a block model's torch reference reads its block inputs.
        **({"backbone_onnx": rules.backbone.output.onnx} if "block" in EXPORT_KINDS.values() else {}),
    output:
        baseline="models/baseline.onnx",
        study="models/study.onnx",
        adapted="models/adapted.onnx",
        parity="models/parity.json",
    params:
        candidates=EXPORT_CANDIDATES,
        feature_kinds=EXPORT_KINDS,
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
