# Names shared by all stages: variants, seeds, image sets, and where each product lives.
# Only the validated config (CFG) is read here: parsing the workflow imports no torch.

# Every variant of the study, by name, as a typed spec: the published ones, the method
# variants of `methods.variants`, the oracle (synth2real.config.Study.variants).
VARIANTS = CFG.variants
# Every variant the workflow trains: the study's, then the labeled-budget track's
# (`<method>@<b>`, synth2real.config.Study.budget_variants), which only its own report reads.
TRAINED = CFG.trained
SEEDS = CFG.seeds
# The image sets every variant reads: synthetic source (train/val), unlabeled real pool,
# labeled real test, and the few labeled real target photos (model-selection val, oracle).
IMAGESETS = ["source", "pool", "real_test", "target_labeled"]
# Whether a model trains MobileNetV2's last block: then the plain feature pass also caches
# the block's inputs of every image set (kind block).
BLOCK = any(v.trainable.kind == "last_block" for v in TRAINED.values())


# The pixel-level parts the study's variants (and the budget track's) read (workflow/rules/
# pixel.smk refines the source images with each).
PIXEL_PARTS = sorted({v.source.pixel for v in TRAINED.values() if v.source.pixel != "none"})


wildcard_constraints:
    size=r"\d+",
    imageset="|".join(IMAGESETS),
    part="|".join(PIXEL_PARTS) or "none",


def manifest(imageset):
    return f"results/data/{imageset}.csv"


# Every seed's nested draw of labeled oracle photos (synth2real.data.budgets).
BUDGET_DRAWS = "results/data/target_budgets.csv"


def features(imageset, kind):
    """The cache of one image set's features of one kind (plain, aligned, adabn, block)."""
    return f"results/features/{kind}/{imageset}.npz"


def pixel_outputs(part):
    """A pixel part's refined images, their manifest (original path -> refined file), its stats."""
    return {"images": f"results/pixel/{part}/images", "manifest": f"results/pixel/{part}/refined.csv",
            "stats": f"results/pixel/{part}/stats.json"}


def image_set(imageset, kind):
    """What a stage's `ImageSet` argument is made of: [manifest, features of `kind`]."""
    return [manifest(imageset), features(imageset, kind)]


def per_seed(variant, name):
    """One file per seed of a variant: its checkpoint, metrics, provenance, pseudo-labels."""
    return [f"results/heads/{variant}/seed{s}/{name}" for s in SEEDS]


def of_seed(variants, seed, name):
    """One file per variant, all of one seed (e.g. the exported seed's checkpoints)."""
    return [f"results/heads/{v}/seed{seed}/{name}" for v in variants]


def real_inputs(wildcards):
    """Downloadable real datasets are first written out as image folders."""
    if CFG.real.source.kind in ("cifar10", "stl10"):
        return [f"{CFG.real.source.extract_dir}/{CFG.real.source.kind}.done"]
    return []


def training_inputs(members):
    """A job's image sets in its feature kinds and the checkpoints and files it reads beyond
    them (synth2real.config.Study.job_inputs): for each pseudo-labelling variant, the models
    its first labels come from; for each shared variant, the models of the variant that trains
    it; for each bridged variant, its stage-1 models; for each ensemble, its members'; the budget draws when a variant reads
    labeled photos, the backbone's info file for block inputs."""
    need = CFG.job_inputs(members)
    kinds = TRAINED[members[0]].feature_kinds
    return {
        **{s: image_set(s, kind) for s, kind in kinds.items()},
        "labelling_models": [f for v in need.labellers.values() for f in per_seed(v, "head.pt")],
        "shared_models": [f for v in need.shares.values() for f in per_seed(v, "head.pt")],
        "start_models": [f for v in need.starts.values() for f in per_seed(v, "head.pt")],
        "ensemble_models": [f for ms in need.ensembles.values() for v in ms
                            for f in per_seed(v, "head.pt")],
        **({"draws": BUDGET_DRAWS} if need.draws else {}),
        **({"backbone": "results/backbone/backbone.json"} if need.backbone else {}),
    }, need


def training_rule(job):
    """A training job's rule name, e.g. train_pseudo_labels_aligned_adabn for the job
    pseudo-labels.aligned.adabn."""
    return "train_{}".format(re.sub(r"\W", "_", job))


def embedding_pairs():
    """Representations shown in the domain-gap figure: label -> (source npz, pool npz). The
    plain features first (the DANN panel embeds them); then the source images changed before
    the backbone -- brought to the target's resolution, refined by each pixel part of the
    study (PIXEL_PARTS) -- each against the plain pool; then align + AdaBN."""
    from synth2real.config.pixel import PIXEL_LABELS

    plain_pool = features("pool", "plain")
    pairs = {"before (frozen features)": (features("source", "plain"), plain_pool)}
    if any(v.source.features == "aligned" for v in VARIANTS.values()):
        pairs["source at target resolution"] = (features("source", "aligned"), plain_pool)
    for part in (p for p in PIXEL_LABELS if p in PIXEL_PARTS):  # the paper's order of parts
        pairs[f"{PIXEL_LABELS[part]}-refined source"] = (features("source", part), plain_pool)
    if any(v.source.features == "aligned" and v.target == "adabn" for v in VARIANTS.values()):
        pairs["after: align + AdaBN"] = (features("source", "aligned"), features("pool", "adabn"))
    return pairs


def embedding_dann():
    """The first seed's DANN model on the plain features, when the study trains one."""
    dann = [name for name, v in VARIANTS.items() if v.trainer.kind == "dann"
            and v.source.features == "plain" and v.target == "plain"]
    return [f"results/heads/{dann[0]}/seed{SEEDS[0]}/head.pt"] if dann else []
