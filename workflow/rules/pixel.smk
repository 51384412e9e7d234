# Stage: pixel-level adaptation (synth2real.adapt.pixel): the synthetic images refined by each
# pixel part some variant names (`source.pixel`), written to disk as images with a manifest,
# then their backbone features, cached under the original paths in the part's feature kind.
# One refiner per study, trained once and read by every variant and seed.

# FDA needs no training; the GANs train here (on the GPU when the job sees one: the SLURM
# profile gives this rule one). A GAN checkpoints to `resume` while it trains: rerunning the
# workflow after an interrupt continues from there. Local runs give each job one core.
rule pixel_refine:
    input:
        source=manifest("source"),
        pool=manifest("pool"),
    output:
        images=directory(pixel_outputs("{part}")["images"]),
        manifest=pixel_outputs("{part}")["manifest"],
        stats=pixel_outputs("{part}")["stats"],
    params:
        pixel=lambda wc: {wc.part: config["methods"]["pixel"][wc.part]},
        align=config["methods"]["align"],
        data_seed=config["data_seed"],
        resume="results/pixel/{part}/resume.pt",
    resources:
        gpu=0,
    log:
        "results/logs/pixel/{part}.log",
    benchmark:
        "results/benchmarks/pixel/{part}.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/pixel_refine.py"


rule features_refined:
    input:
        # (The same job writes the images it lists.)
        manifest=pixel_outputs("{part}")["manifest"],
        backbone=rules.backbone.output.info,
        onnx=rules.backbone.output.onnx,
    output:
        npz=features("source", "{part}"),
        stats="results/features/{part}/source.stats.json",
    params:
        features=config["features"],
    resources:
        gpu=0,
    log:
        "results/logs/features/{part}_source.log",
    benchmark:
        "results/benchmarks/features/{part}_source.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/features_refined.py"
