# Names shared by all stages: variants, seeds, and where each product lives.

VARIANTS = CFG.variants
SEEDS = CFG.seeds
IMAGESETS = ["source", "real_test", "pool"]


wildcard_constraints:
    size=r"\d+",
    imageset="|".join(IMAGESETS),


def metrics_of(variant):
    return [f"results/heads/{variant}/seed{s}/metrics.json" for s in SEEDS]


def real_inputs(wildcards):
    """Downloadable real datasets are first written out as image folders."""
    if CFG.real.source.kind in ("cifar10", "stl10"):
        return [f"{CFG.real.source.extract_dir}/{CFG.real.source.kind}.done"]
    return []
