# Stage: manifests (lists of image paths + labels) of every image set (synth2real.data).


rule source_manifest:
    input:
        synthetic_inputs,
    output:
        csv=manifest("source"),
    params:
        # Rerun triggers: this rule depends on exactly these config sections.
        synthetic=config["synthetic"],
        classes=config["classes"],
        data_seed=config["data_seed"],
    log:
        "results/logs/data/source_manifest.log",
    benchmark:
        "results/benchmarks/data/source_manifest.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/source_manifest.py"


rule real_download:
    output:
        touch(f"{config['real']['source'].get('extract_dir', 'data/real')}/{{dataset}}.done"),
    params:
        real=config["real"]["source"],
    log:
        "results/logs/data/real_download_{dataset}.log",
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/real_download.py"


rule real_manifests:
    input:
        real_inputs,
    output:
        real_test=manifest("real_test"),
        pool=manifest("pool"),
        # Labeled target photos: split "val" (model selection), split "oracle" (upper bound).
        target_labeled=manifest("target_labeled"),
    params:
        real=config["real"],
        classes=config["classes"],
        data_seed=config["data_seed"],
    log:
        "results/logs/data/real_manifests.log",
    benchmark:
        "results/benchmarks/data/real_manifests.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/real_manifests.py"
