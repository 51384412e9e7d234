# Stage: the paper's tables and figures, each from the run's result files alone
# (so an author can restyle them without retraining anything), then the paper
# PDF, whose every number comes from generated macros (paper/tables/numbers.tex);
# and the deployed models' selection and model card (synth2real.report).
# Each rule calls one function of synth2real.report; a figure rule calls
# `make(<inputs>, pdf, png)` of the module named after the figure
# (synth2real/report/figures/<figure>.py). No report job imports torch.

import os

# Figures drawn from results/summary.json alone (rule figure).
FIGURES = ["accuracy_bars", "confusion_matrices", "pseudo_label_diagnostics", "all_methods"]
if any(v.threshold_only() for v in VARIANTS.values()):
    FIGURES.append("threshold_sweep")
from synth2real.report.tables import TABLES

# The data card describes generated images, so it exists only when images are generated.
DATA_CARD = expand("paper/tables/data_card.{ext}", ext=["csv", "md", "tex"]) if GENERATE else []
# The labeled-budget track's figure and table (rule budget_summary's results/budgets.json),
# only in a run with the track; main.tex leaves its section out otherwise (\ifbudgets).
BUDGET_OUTPUTS = ([*expand("paper/tables/budgets.{ext}", ext=["csv", "md", "tex"]),
                   *expand("paper/figures/budgets.{ext}", ext=["pdf", "png"])]
                  if CFG.budget_variants else [])

# Original / refined image pairs of each pixel part (rule figure_pixel_pairs), only in a run
# with pixel parts; main.tex includes the figure when its file exists.
PIXEL_FIGURES = ["pixel_pairs"] if PIXEL_PARTS else []

REPORT_OUTPUTS = [
    *expand("paper/tables/{table}.{ext}", table=TABLES, ext=["csv", "md", "tex"]),
    *expand("paper/figures/{figure}.{ext}", figure=FIGURES, ext=["pdf", "png"]),
    *expand("paper/figures/{figure}.{ext}", figure=["domain_gap", *PIXEL_FIGURES],
            ext=["pdf", "png"]),
    *DATA_CARD,
    *BUDGET_OUTPUTS,
    "paper/main.pdf",
]

# `snakemake --report`: the workflow description; each figure carries a caption.
report: "../report/workflow.rst"


# Table I (results), all methods, the claims with their verdicts, and label-free model
# selection (each criterion's pick and regret), each from the summary alone.
rule table:
    input:
        summary="results/summary.json",
    output:
        csv="paper/tables/{table}.csv",
        md="paper/tables/{table}.md",
        tex="paper/tables/{table}.tex",
    wildcard_constraints:
        table="|".join(TABLES),
    log:
        "results/logs/report/table_{table}.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/table.py"


rule data_card:
    input:
        manifest="results/generate/manifest.csv",
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
        summary="results/summary.json",
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
        tsne=rules.domain_embedding.output.npz,
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
        source=manifest("source"),
        real_test=manifest("real_test"),
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


if PIXEL_PARTS:

    # Per class, the first training images by rank as the refiners took them (the refiners'
    # own resampling, `data.resolution.square`) beside each part's refined copy.
    rule figure_pixel_pairs:
        input:
            # Each part's refined manifest, in PIXEL_PARTS order (the images it lists were
            # written by the same job).
            manifests=[pixel_outputs(part)["manifest"] for part in PIXEL_PARTS],
        output:
            pdf="paper/figures/pixel_pairs.pdf",
            png=report("paper/figures/pixel_pairs.png", caption="../report/pixel_pairs.rst",
                       category="Figures"),
        params:
            parts=PIXEL_PARTS,
            classes=config["classes"],
        log:
            "results/logs/report/figure_pixel_pairs.log",
        conda:
            "../../envs/report.yaml"
        script:
            "../scripts/figure_pixel_pairs.py"


if CFG.budget_variants:

    # Every method at every budget of labeled real photos per class (mean, bootstrap interval).
    rule budget_table:
        input:
            budgets=rules.budget_summary.output.budgets,
        output:
            csv="paper/tables/budgets.csv",
            md="paper/tables/budgets.md",
            tex="paper/tables/budgets.tex",
        log:
            "results/logs/report/budget_table.log",
        conda:
            "../../envs/report.yaml"
        script:
            "../scripts/budget_table.py"

    rule figure_budgets:
        input:
            budgets=rules.budget_summary.output.budgets,
        output:
            pdf="paper/figures/budgets.pdf",
            png=report("paper/figures/budgets.png", caption="../report/budgets.rst", category="Figures"),
        log:
            "results/logs/report/figure_budgets.log",
        conda:
            "../../envs/report.yaml"
        script:
            "../scripts/figure_budgets.py"


# Stage -> benchmark files of its jobs in this configuration (the paper's run-time table).
PAPER_BENCHMARKS = {
    stage: [str(f) for f in files]
    for stage, files in {
        "generate": expand(rules.generate_shard.benchmark, cls=CFG.classes, shard=range(N_SHARDS)),
        "data": [rules.source_manifest.benchmark, rules.real_manifests.benchmark],
        "backbone": [rules.backbone.benchmark],
        "features": expand(rules.features.benchmark, imageset=IMAGESETS),
        # The training jobs of the published variants (with the other variants of those jobs).
        "train": [f"results/benchmarks/train/{CFG.training_job(CFG.roles.source_only)}.tsv"],
        "adapt": [f"results/benchmarks/train/{CFG.training_job(CFG.roles.published)}.tsv"],
        # The labeled-budget track's training jobs (their wall times summed: they run side
        # by side with each other and with the study's).
        "budgets": [f"results/benchmarks/train/{job}.tsv" for job in TRAINING_JOBS
                    if job.startswith("budget-")],
    }.items()
    if files
}


# The settings the paper quotes come from the config recorded in
# results/provenance.json (the run that produced the numbers), not from params.
rule paper_inputs:
    input:
        # The benchmark files of PAPER_BENCHMARKS (read by their paths there).
        [f for files in PAPER_BENCHMARKS.values() for f in files],
        summary="results/summary.json",
        provenance=rules.run_provenance.output.provenance,
        source=manifest("source"),
        real_test=manifest("real_test"),
        pool=manifest("pool"),
        target_labeled=manifest("target_labeled"),
        # The labeled-budget track's macros (and \budgetstrue), in a run with the track.
        **({"budgets": rules.budget_summary.output.budgets} if CFG.budget_variants else {}),
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
        "results/logs/report/paper_inputs.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/paper_inputs.py"


rule paper:
    input:
        # The generated tables and figures main.tex includes (found by latexmk, not read here).
        rules.paper_inputs.output,
        expand("paper/tables/{table}.tex", table=TABLES),
        expand("paper/figures/{figure}.pdf",
               figure=[*FIGURES, "sample_grid", "domain_gap", *PIXEL_FIGURES]),
        [f for f in BUDGET_OUTPUTS if f.endswith((".tex", ".pdf"))],
        tex=os.path.join(workflow.basedir, "paper", "main.tex"),
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


# Which variant plays each deployed role -- baseline (the pseudo-labels' source model), study
# (the published method), adapted (picked by evaluation.deploy_criterion in the summary) --
# with each one's test accuracy and interval; read by export_onnx (model.smk).
rule deploy_selection:
    input:
        summary="results/summary.json",
        real_test=manifest("real_test"),
        # Its validation photos: how many labeled real photos the deploy criterion read.
        target_labeled=manifest("target_labeled"),
        metrics=of_seed(EXPORT_CANDIDATES, EXPORT_SEED, "metrics.json"),
    output:
        deploy="results/deploy/models.json",
    params:
        candidates=EXPORT_CANDIDATES,
        baseline=CFG.roles.source_only,
        classes=config["classes"],
        real=config["real"],
        evaluation=config["evaluation"],
        export=config["export"],
    log:
        "results/logs/export/deploy_selection.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/deploy_selection.py"


rule model_card:
    input:
        deploy=rules.deploy_selection.output.deploy,
        parity=rules.export_onnx.output.parity,
        onnx=[f"models/{role}.onnx" for role in EXPORT_ROLES],
    output:
        card="models/card.json",
        readme="models/README.md",
    params:
        synthetic=config["synthetic"],
        backbone=config["backbone"],
    log:
        "results/logs/export/model_card.log",
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/model_card.py"
