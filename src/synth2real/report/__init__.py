"""The paper's tables, figures, numbers and PDF, from a finished run's files; never imports torch.

Modules are named after what they produce:

text                   TeX escaping, percentages, durations, CSV, writing files (shared by all)
cells                  the summary's evaluation keys read one way, and the text of their cells
tables                 rule table: one of the tables below, as CSV, Markdown and LaTeX
  results_table        Table I (accuracy per split and variant)
  methods_table        every variant with both intervals, paired difference, gap closure
  claims_table         each claim's reproduced effect, interval and verdict
  model_selection_table  each label-free criterion's pick, gap closure and regret
  budgets_table        every labeled-budget method at every budget (rule budget_table, from
                       results/budgets.json)
figures/               one module per figure (rules figure, figure_domain_gap, figure_sample_grid,
                       figure_budgets)
numbers/               the `\\Num{key}` macros of numbers.tex: the study's (__init__), the
                       evaluation's (evaluation: intervals, oracle, gap closure, selection, claims)
                       and the labeled-budget track's (budgets)
paper_tables           the reported-vs-reproduced, setup and run-time tables
paper_inputs           rule paper_inputs: numbers.tex and those three tables
data_card              rule data_card: how the synthetic images were generated
latex                  rule paper: the PDF with latexmk
model_card             rules deploy_selection and model_card: the deployed roles and their card
"""
