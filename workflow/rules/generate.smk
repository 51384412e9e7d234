# Stage: synthetic images from a text-to-image generator (paper config).
# With a `folder` source there is nothing to generate.


rule generate_class:
    output:
        touch("results/generate/{cls}.done"),
    params:
        generator=lambda w: config["synthetic"]["source"],
    log:
        "results/logs/generate/{cls}.log",
    conda:
        "../../envs/generate.yaml"
    script:
        "../scripts/generate.py"
