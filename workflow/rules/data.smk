# Stage: manifests (lists of image paths + labels) and the backbone weights.


rule source_manifest:
    input:
        synthetic_inputs,
    output:
        csv="results/data/source.csv",
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
        test="results/data/real_test.csv",
        pool="results/data/pool.csv",
        # Labeled target photos: split "val" (model selection), split "oracle" (upper bound).
        target="results/data/target.csv",
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


rule backbone:
    output:
        onnx="results/backbone/backbone.onnx",
        info="results/backbone/backbone.json",
    params:
        backbone=config["backbone"],
        # The export's opset and the parity tolerance of the features it will give.
        features=config["features"],
        export=config["export"],
    log:
        "results/logs/backbone/backbone.log",
    benchmark:
        "results/benchmarks/backbone/backbone.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/backbone.py"
