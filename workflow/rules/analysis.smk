# Stage: from every model's metrics to the study's summary (synth2real.analysis): means,
# seed and bootstrap intervals, the oracle's gap closure, model selection with regret,
# claim verdicts; the domain-gap embedding; the run's provenance.


rule summary:
    input:
        # Every variant's per-seed metrics, variant by variant in `variants` order.
        metrics=[f for v in VARIANTS for f in per_seed(v, "metrics.json")],
        # Test labels, in the order of every model's per-image test predictions.
        real_test=manifest("real_test"),
    output:
        summary="results/summary.json",
    params:
        # Exactly what the summary reads: a config edit elsewhere does not rerun it.
        study=config["name"],
        offline=config["bundle"] is not None,
        classes=config["classes"],
        seeds=SEEDS,
        variants=list(VARIANTS),
        roles=CFG.roles.model_dump(),
        evaluation=config["evaluation"],
        claims=[c.model_dump() for c in CFG.claims],
    log:
        "results/logs/analysis/summary.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/summary.py"


# The resolved config, git commit and package versions of the run (the paper quotes its
# settings from here): the one product that depends on the whole config.
rule run_provenance:
    output:
        provenance="results/provenance.json",
    params:
        study=config,
    log:
        "results/logs/analysis/run_provenance.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/run_provenance.py"


rule domain_embedding:
    input:
        source=manifest("source"),
        dann=embedding_dann(),
        # Per panel of `panels`, its source and its pool features.
        features=[f for pair in embedding_pairs().values() for f in pair],
    output:
        npz="results/domain/tsne.npz",
    params:
        panels=list(embedding_pairs()),
        source_size=config["pseudo_label"]["source_size"],
        domain_sample=config["methods"]["domain_sample"],
        data_seed=config["data_seed"],
        seeds=SEEDS,
    log:
        "results/logs/analysis/domain_embedding.log",
    benchmark:
        "results/benchmarks/analysis/domain_embedding.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/domain_embedding.py"
