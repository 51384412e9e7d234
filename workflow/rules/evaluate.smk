# Stage: all per-seed metrics -> results/summary.json: means, seed and bootstrap
# intervals, the oracle's gap closure, model selection with regret, claim verdicts.


rule summary:
    input:
        **{v: metrics_of(v) for v in VARIANTS},
        # Test labels, in the order of every model's per-image test predictions.
        test="results/data/real_test.csv",
    output:
        summary="results/summary.json",
        provenance="results/provenance.json",
    params:
        # The summary records the whole resolved study (its provenance).
        study=config,
    log:
        "results/logs/evaluate/summary.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/summary.py"
