# Stage: baseline heads on synthetic features, one per (size, seed), and the
# oracle on labeled real target photos. One job per variant trains every seed:
# the features load once. Every model is also scored for model selection on the
# unlabeled pool and the labeled target-validation split (never on the test set).


rule train_baseline:
    input:
        source="results/data/source.csv",
        source_npz="results/features/source.npz",
        test="results/data/real_test.csv",
        test_npz="results/features/real_test.npz",
        pool="results/data/pool.csv",
        pool_npz="results/features/pool.npz",
        target="results/data/target.csv",
        target_npz="results/features/target.npz",
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


rule train_oracle:
    input:
        target="results/data/target.csv",
        target_npz="results/features/target.npz",
        test="results/data/real_test.csv",
        test_npz="results/features/real_test.npz",
    output:
        heads=per_seed("oracle", "head.pt"),
        metrics=per_seed("oracle", "metrics.json"),
        provenance=per_seed("oracle", "provenance.json"),
    params:
        train=config["train"],
        classes=config["classes"],
        seeds=SEEDS,
    log:
        "results/logs/train/oracle.log",
    benchmark:
        "results/benchmarks/train/oracle.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/train_oracle.py"
