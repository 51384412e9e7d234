# Stage: the published pseudo-label adaptation. Each seed's source model labels
# the unlabeled real pool; confident labels join the synthetic training set; a
# fresh head is trained on both.


rule pseudo_label:
    input:
        heads=per_seed(CFG.pseudo_source_variant, "head.pt"),
        pool="results/data/pool.csv",
        pool_npz="results/features/pool.npz",
    output:
        accepted=expand("results/pseudo/seed{seed}/accepted.csv", seed=SEEDS),
        diagnostics=expand("results/pseudo/seed{seed}/diagnostics.json", seed=SEEDS),
    params:
        pseudo_label=config["pseudo_label"],
        seeds=SEEDS,
    log:
        "results/logs/pseudo/pseudo_label.log",
    benchmark:
        "results/benchmarks/pseudo/pseudo_label.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/pseudo_label.py"


rule train_adapted:
    input:
        source="results/data/source.csv",
        source_npz="results/features/source.npz",
        accepted=rules.pseudo_label.output.accepted,
        diagnostics=rules.pseudo_label.output.diagnostics,
        pool="results/data/pool.csv",
        pool_npz="results/features/pool.npz",
        test="results/data/real_test.csv",
        test_npz="results/features/real_test.npz",
        target="results/data/target.csv",
        target_npz="results/features/target.npz",
    output:
        heads=per_seed("pseudo-label", "head.pt"),
        metrics=per_seed("pseudo-label", "metrics.json"),
        provenance=per_seed("pseudo-label", "provenance.json"),
    params:
        train=config["train"],
        pseudo_label=config["pseudo_label"],
        classes=config["classes"],
        seeds=SEEDS,
    log:
        "results/logs/train/pseudo-label.log",
    benchmark:
        "results/benchmarks/train/pseudo-label.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/train_adapted.py"
