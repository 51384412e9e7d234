# Stage: baseline heads on synthetic features, one per (size, seed). One job
# per size trains every seed: the features load once.


rule train_baseline:
    input:
        source="results/data/source.csv",
        source_npz="results/features/source.npz",
        test="results/data/real_test.csv",
        test_npz="results/features/real_test.npz",
    output:
        heads=per_seed("synthetic-{size}", "head.pt"),
        metrics=per_seed("synthetic-{size}", "metrics.json"),
        provenance=per_seed("synthetic-{size}", "provenance.json"),
    params:
        train=config["train"],
        classes=config["classes"],
        seeds=SEEDS,
    log:
        "results/logs/train/synthetic-{size}.log",
    benchmark:
        "results/benchmarks/train/synthetic-{size}.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/train_baseline.py"
