# Stage: all per-seed metrics -> results/summary.json (mean, std, per seed).


rule summary:
    input:
        **{v: metrics_of(v) for v in VARIANTS},
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
