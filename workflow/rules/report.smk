# Stage: the paper's tables and figures, each from the run's result files alone
# (so an author can restyle them without retraining anything), then the paper
# PDF, whose every number comes from generated macros (paper/tables/numbers.tex).
# Each rule calls one function of synth2real.report; a figure rule calls
# `make(<inputs>, pdf, png)` of the module named after the figure
# (synth2real/report/figures/<figure>.py). No report job imports torch.

import os

from synth2real.config.methods import threshold_only

# Figures drawn from results/summary.json alone (rule figure).
FIGURES = ["accuracy_bars", "confusion_matrices", "pseudo_label_diagnostics", "all_methods"]
if any(threshold_only(v.model_dump()) for v in METHODS.values()):
    FIGURES.append("threshold_sweep")

# The data card describes generated images, so it exists only when images are generated.
DATA_CARD = expand("paper/tables/data_card.{ext}", ext=["csv", "md", "tex"]) if GENERATE else []

REPORT_OUTPUTS = [
    *expand("paper/tables/results.{ext}", ext=["csv", "md", "tex"]),
    *expand("paper/tables/methods.{ext}", ext=["csv", "md", "tex"]),
    *expand("paper/tables/claims.{ext}", ext=["csv", "md", "tex"]),
    *expand("paper/tables/selection.{ext}", ext=["csv", "md", "tex"]),
    *expand("paper/figures/{figure}.{ext}", figure=FIGURES, ext=["pdf", "png"]),
    *expand("paper/figures/domain_gap.{ext}", ext=["pdf", "png"]),
    *DATA_CARD,
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


# The study's claims with their verdicts (from the summary's "claims").
rule table_claims:
    input:
        "results/summary.json",
    output:
        csv="paper/tables/claims.csv",
        md="paper/tables/claims.md",
        tex="paper/tables/claims.tex",
    log:
        "results/logs/report/table_claims.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/table_claims.py"


# Label-free model selection: each criterion's pick and its regret (the summary's "selection").
rule table_selection:
    input:
        "results/summary.json",
    output:
        csv="paper/tables/selection.csv",
        md="paper/tables/selection.md",
        tex="paper/tables/selection.tex",
    log:
        "results/logs/report/table_selection.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/table_selection.py"


rule data_card:
    input:
        "results/generate/manifest.csv",
    output:
        csv="paper/tables/data_card.csv",
        md="paper/tables/data_card.md",
        tex="paper/tables/data_card.tex",
    params:
        classes=config["classes"],
        synthetic=config["synthetic"],
    log:
        "results/logs/report/data_card.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/data_card.py"


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


rule figure_domain_gap:
    input:
        "results/domain/tsne.npz",
    output:
        pdf="paper/figures/domain_gap.pdf",
        png=report("paper/figures/domain_gap.png", caption="../report/domain_gap.rst", category="Figures"),
    log:
        "results/logs/report/figure_domain_gap.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure_domain_gap.py"


rule figure_sample_grid:
    input:
        source="results/data/source.csv",
        test="results/data/real_test.csv",
    output:
        pdf="paper/figures/sample_grid.pdf",
        png=report("paper/figures/sample_grid.png", caption="../report/sample_grid.rst", category="Figures"),
    params:
        classes=config["classes"],
        source_kind=config["synthetic"]["source"]["kind"],
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


# The settings the paper quotes come from the config recorded in
# results/provenance.json (the run that produced the numbers), not from params.
rule paper_numbers:
    input:
        summary="results/summary.json",
        provenance="results/provenance.json",
        source="results/data/source.csv",
        test="results/data/real_test.csv",
        pool="results/data/pool.csv",
        target="results/data/target.csv",
        benchmarks=[f for files in PAPER_BENCHMARKS.values() for f in files],
    output:
        numbers="paper/tables/numbers.tex",
        reported="paper/tables/reported_vs_reproduced.tex",
        setup="paper/tables/setup.tex",
        runtimes="paper/tables/runtimes.tex",
    params:
        benchmarks=PAPER_BENCHMARKS,
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
        tables=[*rules.paper_numbers.output, "paper/tables/results.tex", "paper/tables/methods.tex",
                "paper/tables/claims.tex", "paper/tables/selection.tex"],
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
