# Names shared by all stages: variants, seeds, and where each product lives.

VARIANTS = CFG.variants
SEEDS = CFG.seeds
IMAGESETS = ["source", "real_test", "pool"]


wildcard_constraints:
    size=r"\d+",
    imageset="|".join(IMAGESETS),


def metrics_of(variant):
    return [f"results/heads/{variant}/seed{s}/metrics.json" for s in SEEDS]
