# Stage: the paper's tables and figures, each from results/summary.json alone
# (so an author can restyle them without retraining anything), then the paper
# PDF, whose every number comes from generated macros (paper/tables/numbers.tex).

import os

FIGURES = ["accuracy_bars", "confusion_matrices", "pseudo_label_diagnostics", "all_methods"]
if any(v.startswith("threshold-") for v in METHOD_VARIANTS):
    FIGURES.append("threshold_sweep")

REPORT_OUTPUTS = [
    *expand("paper/tables/results.{ext}", ext=["csv", "md", "tex"]),
    *expand("paper/tables/methods.{ext}", ext=["csv", "md", "tex"]),
    *expand("paper/figures/{figure}.{ext}", figure=FIGURES, ext=["pdf", "png"]),
    *expand("paper/figures/domain_gap.{ext}", ext=["pdf", "png"]),
    "paper/main.pdf",
]

# `snakemake --report`: the workflow description; each figure carries a caption.
report: "../report/workflow.rst"


rule table_results:
    input:
        "results/summary.json",
    output:
        csv="paper/tables/results.csv",
        md="paper/tables/results.md",
        tex="paper/tables/results.tex",
    log:
        "results/logs/report/table_results.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/table_results.py"


rule figure:
    input:
        "results/summary.json",
    output:
        pdf="paper/figures/{figure}.pdf",
        png=report("paper/figures/{figure}.png", caption="../report/figure.rst", category="Figures"),
    wildcard_constraints:
        figure="|".join(FIGURES),
    log:
        "results/logs/report/figure_{figure}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure.py"


rule figure_sample_grid:
    input:
        source="results/data/source.csv",
        test="results/data/real_test.csv",
    output:
        pdf="paper/figures/sample_grid.pdf",
        png=report("paper/figures/sample_grid.png", caption="../report/sample_grid.rst", category="Figures"),
    log:
        "results/logs/report/figure_sample_grid.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure_sample_grid.py"


# Stage -> benchmark files of its jobs in this configuration (the paper's run-time table).
PAPER_BENCHMARKS = {
    stage: [str(f) for f in files]
    for stage, files in {
        "generate": expand(rules.generate_shard.benchmark, cls=CFG.classes, shard=range(N_SHARDS)),
        "data": [rules.source_manifest.benchmark, rules.real_manifests.benchmark],
        "backbone": [rules.backbone.benchmark],
        "features": expand(rules.features.benchmark, imageset=IMAGESETS),
        "train": expand(rules.train_baseline.benchmark, size=CFG.synthetic.sizes),
        "pseudo": [rules.pseudo_label.benchmark],
        "adapt": [rules.train_adapted.benchmark],
    }.items()
    if files
}


rule paper_numbers:
    input:
        summary="results/summary.json",
        provenance="results/provenance.json",
        manifests=["results/data/source.csv", "results/data/real_test.csv", "results/data/pool.csv"],
        benchmarks=[f for files in PAPER_BENCHMARKS.values() for f in files],
    output:
        numbers="paper/tables/numbers.tex",
        reported="paper/tables/reported_vs_reproduced.tex",
        setup="paper/tables/setup.tex",
        runtimes="paper/tables/runtimes.tex",
    params:
        stages=PAPER_BENCHMARKS,
        configfiles=[str(f) for f in workflow.configfiles],
        repo=workflow.basedir,
    log:
        "results/logs/report/paper_numbers.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/paper_numbers.py"


rule paper:
    input:
        tex=os.path.join(workflow.basedir, "paper", "main.tex"),
        tables=[*rules.paper_numbers.output, "paper/tables/results.tex", "paper/tables/methods.tex"],
        figures=expand("paper/figures/{figure}.pdf", figure=[*FIGURES, "sample_grid", "domain_gap"]),
    output:
        pdf="paper/main.pdf",
    log:
        # latexmk's own log, kept beside the build; the rule's log says what ran.
        rule="results/logs/report/paper.log",
        latex="paper/build/main.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/paper.py"


rule table_methods:
    input:
        "results/summary.json",
    output:
        csv="paper/tables/methods.csv",
        md="paper/tables/methods.md",
        tex="paper/tables/methods.tex",
    log:
        "results/logs/report/table_methods.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/table_methods.py"


rule figure_domain_gap:
    input:
        "results/domain/tsne.npz",
    output:
        pdf="paper/figures/domain_gap.pdf",
        png="paper/figures/domain_gap.png",
    log:
        "results/logs/report/figure_domain_gap.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure_domain_gap.py"
