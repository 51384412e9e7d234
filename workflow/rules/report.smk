# Stage: the paper's tables and figures, each from results/summary.json alone
# (so an author can restyle them without retraining anything).

FIGURES = ["accuracy_bars", "confusion_matrices", "all_methods"]
if any(v.startswith("threshold-") for v in METHOD_VARIANTS):
    FIGURES.append("threshold_sweep")

REPORT_OUTPUTS = [
    *expand("paper/tables/results.{ext}", ext=["csv", "md", "tex"]),
    *expand("paper/tables/methods.{ext}", ext=["csv", "md", "tex"]),
    *expand("paper/figures/{figure}.{ext}", figure=FIGURES, ext=["pdf", "png"]),
    *expand("paper/figures/domain_gap.{ext}", ext=["pdf", "png"]),
]


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
        png="paper/figures/{figure}.png",
    wildcard_constraints:
        figure="|".join(FIGURES),
    log:
        "results/logs/report/figure_{figure}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figure.py"


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
