# Names shared by all stages: variants, seeds, and where each product lives.
# Only the validated config (CFG) is read here: parsing the workflow imports no torch.

VARIANTS = CFG.variants
SEEDS = CFG.seeds
IMAGESETS = ["source", "real_test", "pool", "target"]
METHODS = CFG.methods.variants
METHOD_VARIANTS = list(METHODS)

# (image set, feature kind) -> cached features; features.smk writes the plain
# ones, methods.smk the aligned source and the AdaBN target features.
FEATURE_FILES = {
    ("source", "plain"): "results/features/source.npz",
    ("source", "aligned"): "results/features/aligned/source.npz",
    ("pool", "plain"): "results/features/pool.npz",
    ("pool", "adabn"): "results/features/adabn/pool.npz",
    ("real_test", "plain"): "results/features/real_test.npz",
    ("real_test", "adabn"): "results/features/adabn/real_test.npz",
    # Labeled target photos: the target-validation split (model selection) and the oracle's.
    ("target", "plain"): "results/features/target.npz",
    ("target", "adabn"): "results/features/adabn/target.npz",
}


wildcard_constraints:
    size=r"\d+",
    imageset="|".join(IMAGESETS),


def per_seed(variant, name):
    """One file per seed of a variant: its checkpoint, metrics or provenance."""
    return [f"results/heads/{variant}/seed{s}/{name}" for s in SEEDS]


def of_seed(variants, seed, name):
    """One file per variant, all of one seed (e.g. the exported seed's checkpoints)."""
    return [f"results/heads/{v}/seed{seed}/{name}" for v in variants]


def metrics_of(variant):
    return per_seed(variant, "metrics.json")


def real_inputs(wildcards):
    """Downloadable real datasets are first written out as image folders."""
    if CFG.real.source.kind in ("cifar10", "stl10"):
        return [f"{CFG.real.source.extract_dir}/{CFG.real.source.kind}.done"]
    return []


def method_inputs(wildcards):
    """The manifests and the cached features a method variant's parts read."""
    v = METHODS[wildcards.method]
    return {"source": "results/data/source.csv", "pool": "results/data/pool.csv",
            "test": "results/data/real_test.csv", "target": "results/data/target.csv",
            "source_npz": FEATURE_FILES[("source", v.source)],
            "pool_npz": FEATURE_FILES[("pool", v.target)],
            "test_npz": FEATURE_FILES[("real_test", v.target)],
            "target_npz": FEATURE_FILES[("target", v.target)]}


def embedding_pairs():
    """Representations shown in the domain-gap figure: label -> (source npz, pool npz)."""
    pairs = {"before (frozen features)": (FEATURE_FILES[("source", "plain")],
                                          FEATURE_FILES[("pool", "plain")])}
    if any(v.source == "aligned" and v.target == "adabn" for v in METHODS.values()):
        pairs["after: align + AdaBN"] = (FEATURE_FILES[("source", "aligned")],
                                         FEATURE_FILES[("pool", "adabn")])
    return pairs


def embedding_dann_checkpoint():
    """The first seed's plain DANN model (on the plain features), when the config runs one."""
    dann = [name for name, v in METHODS.items() if v.trainer == "dann" and v.source == "plain"
            and v.target == "plain"]
    return [f"results/heads/{dann[0]}/seed{SEEDS[0]}/head.pt"] if dann else []
