# Names shared by all stages: variants, seeds, and where each product lives.

import re

from synth2real.adapt import variants as _methods

VARIANTS = CFG.variants
SEEDS = CFG.seeds
IMAGESETS = ["source", "real_test", "pool"]
# Adaptation methods beyond the study (issue 5): variant name -> methods.Spec.
METHOD_SPECS = {s.name: s for s in _methods.specs(CFG)}
METHOD_VARIANTS = list(METHOD_SPECS)


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


def method_inputs(wildcards):
    spec = METHOD_SPECS[wildcards.method]
    return {"source": "results/data/source.csv", "pool": "results/data/pool.csv",
            "test": "results/data/real_test.csv", **spec.files()}


def embedding_pairs():
    """Representations shown in the domain-gap figure: label -> (source npz, pool npz)."""
    pairs = {"before (frozen features)": ("results/features/source.npz", "results/features/pool.npz")}
    if any(s.source == "aligned" and s.target == "adabn" for s in METHOD_SPECS.values()):
        pairs["after: align + AdaBN"] = ("results/features/aligned/source.npz",
                                         "results/features/adabn/pool.npz")
    return pairs


def embedding_dann_head():
    if "dann" in METHOD_SPECS:
        return [f"results/heads/dann/seed{SEEDS[0]}/head.pt"]
    return []
