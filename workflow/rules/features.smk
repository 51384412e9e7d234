# Stage: backbone features, once per image set; every head trains on these.


rule features:
    input:
        manifest="results/data/{imageset}.csv",
        onnx="results/backbone/backbone.onnx",
        info="results/backbone/backbone.json",
    output:
        npz="results/features/{imageset}.npz",
        stats="results/features/{imageset}.stats.json",
    params:
        features=config["features"],
    threads: workflow.cores
    resources:
        gpu=0,
    log:
        "results/logs/features/{imageset}.log",
    benchmark:
        "results/benchmarks/features/{imageset}.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/features.py"
