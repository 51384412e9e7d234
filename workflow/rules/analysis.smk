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


# The labeled-budget track (`budgets`): every method at every budget of labeled real photos per
# class, on the summary's resamples, beside the source-only model, the zero-label pick (the deploy
# criterion's, known only once the summary exists: so every study variant's metrics are inputs)
# and the oracle; the budget at which the photos alone match the zero-label pick; the track's
# claims (synth2real.analysis.budgets).
if CFG.budget_variants:

    rule budget_summary:
        input:
            # The track's per-seed metrics: method by method, budget by budget (`per_class`;
            # not the stage-1 models `<method>@start` of bridged transfer).
            metrics=[f for v in CFG.budgets.variants() for f in per_seed(v, "metrics.json")],
            # Every study variant's, in `variants` order: the references are read from them.
            study_metrics=[f for v in VARIANTS for f in per_seed(v, "metrics.json")],
            summary=rules.summary.output.summary,
            real_test=manifest("real_test"),
        output:
            budgets="results/budgets.json",
        params:
            classes=config["classes"],
            seeds=SEEDS,
            variants=list(VARIANTS),
            per_class=config["budgets"]["per_class"],
            methods=list(CFG.budgets.methods),
            real_only=CFG.budgets.real_only,
            claims=[c.model_dump() for c in CFG.budgets.judged],
            # The summary's resamples, drawn again (same settings, same shape).
            resampling=config["evaluation"]["bootstrap"],
            # The verdict rule only (the study's claim items are the summary's).
            verdict_rule={k: config["evaluation"]["claims"][k] for k in ("margin", "interval")},
        log:
            "results/logs/analysis/budget_summary.log",
        conda:
            "../../envs/report.yaml"
        script:
            "../scripts/budget_summary.py"


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
