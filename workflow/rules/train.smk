# Stage: baseline heads on synthetic features, one per (size, seed). One job
# per size trains every seed (features load once; see steps.train_baseline).


rule train_baseline:
    input:
        source="results/data/source.csv",
        source_npz="results/features/source.npz",
        test="results/data/real_test.csv",
        test_npz="results/features/real_test.npz",
    output:
        heads=expand("results/heads/synthetic-{{size}}/seed{seed}/head.pt", seed=SEEDS),
        metrics=expand("results/heads/synthetic-{{size}}/seed{seed}/metrics.json", seed=SEEDS),
        provenance=expand("results/heads/synthetic-{{size}}/seed{seed}/provenance.json", seed=SEEDS),
    params:
        train=config["train"],
        seeds=SEEDS,
    log:
        "results/logs/train/synthetic-{size}.log",
    benchmark:
        "results/benchmarks/train/synthetic-{size}.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/train_baseline.py"
