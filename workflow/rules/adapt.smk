# Stage: every variant of the study and of the labeled-budget track, trained from its parts
# (synth2real.adapt): the two extra feature passes some parts read (resolution-aligned
# source, AdaBN target), the budget draws of labeled photos, then one job per kind of work
# that trains all its variants' seeds together on the cached features.


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


rule budget_draws:
    input:
        target_labeled=manifest("target_labeled"),
    output:
        draws=BUDGET_DRAWS,
    params:
        classes=config["classes"],
        seeds=SEEDS,
        data_seed=config["data_seed"],
    log:
        "results/logs/data/budget_draws.log",
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/budget_draws.py"


# Training jobs (synth2real.config.Study.training_jobs): the variants of one kind of work
# (heads, pseudo-labels, shared, or a pool trainer) on one pair of feature kinds, e.g.
# `pseudo-labels.aligned.adabn`. One rule each: its job loads its features once and trains
# every seed of every variant in as few batched passes as their parts allow.
TRAINING_JOBS = CFG.training_jobs()
# A training job's cluster resources (the SLURM profile sizes every other rule; these rules'
# names follow the config). Local runs ignore them: one core each, the batched matmuls of the
# bottleneck nets included.
TRAINING_RESOURCES = {"cpus_per_task": 4, "mem_mb": 8000, "runtime": 60}


for JOB, MEMBERS in TRAINING_JOBS.items():
    JOB_INPUTS, NEED = training_inputs(MEMBERS)

    rule:
        name:
            training_rule(JOB)
        input:
            **JOB_INPUTS,
        output:
            heads=[f for v in MEMBERS for f in per_seed(v, "head.pt")],
            metrics=[f for v in MEMBERS for f in per_seed(v, "metrics.json")],
            provenance=[f for v in MEMBERS for f in per_seed(v, "provenance.json")],
            # The pseudo-labels each model was trained on (a header only without any).
            accepted=[f for v in MEMBERS for f in per_seed(v, "pseudo_labels.csv")],
        params:
            # Each variant's parts with all their settings: the job's rerun trigger.
            variants={v: TRAINED[v].model_dump(mode="json") for v in MEMBERS},
            labellers=NEED.labellers,
            shares=NEED.shares,
            starts=NEED.starts,
            ensembles=NEED.ensembles,
            train=config["train"],
            # The budget track measures no proxy A-distance (a few photos vs the pool).
            domain_sample=0 if NEED.budget_track else config["methods"]["domain_sample"],
            data_seed=config["data_seed"],
            classes=config["classes"],
            seeds=SEEDS,
        resources:
            **TRAINING_RESOURCES,
        log:
            f"results/logs/train/{JOB}.log",
        benchmark:
            f"results/benchmarks/train/{JOB}.tsv"
        conda:
            "../../envs/train.yaml"
        script:
            "../scripts/train_variants.py"
