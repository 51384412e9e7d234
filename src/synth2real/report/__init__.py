"""The paper's tables, figures, numbers and PDF, from a finished run's files; never imports torch.

text            TeX escaping, percentages, durations, CSV, writing files (shared by all)
results_table   rule table_results: Table I (accuracy per split and variant)
methods_table   rule table_methods: every variant with both intervals, paired difference, gap closure
claims_table    rule table_claims: each claim's reproduced effect, interval and verdict
model_selection_table  rule table: each label-free criterion's pick, gap closure and regret
evaluation      reading the summary's oracle, gap closure, bootstrap, selection, claims (shared)
evaluation_numbers  the evaluation's `\\Num{key}` macros and sentences
data_card       rule data_card: how the synthetic images were generated
numbers         the `\\Num{key}` macros the paper quotes
paper_tables    reported-vs-reproduced, setup and run-time tables
paper_numbers   rule paper_numbers: writes the macros and those three tables
latex           rule paper: the PDF with latexmk
figures/        one module per figure (rules figure, figure_domain_gap, figure_sample_grid)
"""
