# Stage: every variant of the study, trained from its parts (synth2real.adapt): the two
# extra feature passes some parts read (resolution-aligned source, AdaBN target), then one
# job per variant that trains all its seeds together on the cached features.


rule features_aligned:
    input:
        source=manifest("source"),
        pool=manifest("pool"),
        backbone=rules.backbone.output.info,
        onnx=rules.backbone.output.onnx,
    output:
        npz=features("source", "aligned"),
        stats="results/features/aligned/source.stats.json",
    params:
        features=config["features"],
        align=config["methods"]["align"],
    log:
        "results/logs/features/aligned_source.log",
    benchmark:
        "results/benchmarks/features/aligned_source.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/features_aligned.py"


rule features_adabn:
    input:
        pool=manifest("pool"),
        real_test=manifest("real_test"),
        target_labeled=manifest("target_labeled"),
        backbone=rules.backbone.output.info,
    output:
        onnx="results/backbone/adabn.onnx",
        pool_features=features("pool", "adabn"),
        real_test_features=features("real_test", "adabn"),
        target_labeled_features=features("target_labeled", "adabn"),
        stats="results/features/adabn/stats.json",
    params:
        features=config["features"],
        adabn=config["methods"]["adabn"],
        export=config["export"],
        data_seed=config["data_seed"],
    log:
        "results/logs/features/adabn.log",
    benchmark:
        "results/benchmarks/features/adabn.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/features_adabn.py"


def variant_inputs(wildcards):
    """A variant's image sets in the feature kinds its parts name, the checkpoints its first
    pseudo-labels come from, and those of the earlier variant that trains the same model."""
    spec = VARIANTS[wildcards.variant]
    out = {s: image_set(s, kind) for s, kind in spec.feature_kinds.items()}
    labeller = CFG.labelled_by(wildcards.variant)
    if labeller:
        out["labelling_models"] = per_seed(labeller, "head.pt")
    trainer = CFG.trained_as(wildcards.variant)
    if trainer != wildcards.variant:
        out["shared_models"] = per_seed(trainer, "head.pt")
    return out


rule train_variant:
    input:
        unpack(variant_inputs),
    output:
        heads=per_seed("{variant}", "head.pt"),
        metrics=per_seed("{variant}", "metrics.json"),
        provenance=per_seed("{variant}", "provenance.json"),
        # The pseudo-labels each seed's model was trained on (header only without any).
        accepted=per_seed("{variant}", "pseudo_labels.csv"),
    wildcard_constraints:
        variant="|".join(re.escape(v) for v in VARIANTS),
    params:
        # The variant's parts with all their settings: its rerun trigger.
        spec=lambda w: VARIANTS[w.variant].model_dump(mode="json"),
        train=config["train"],
        domain_sample=config["methods"]["domain_sample"],
        data_seed=config["data_seed"],
        classes=config["classes"],
        seeds=SEEDS,
    log:
        "results/logs/train/{variant}.log",
    benchmark:
        "results/benchmarks/train/{variant}.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/train_variant.py"
