# Stage: synthetic images from a text-to-image generator (paper config).
#
# One job per class x shard (synthetic.source.shard_size images), each asking
# for one GPU: a cluster executor (SLURM) spreads the shards over
# many GPUs; a local run uses as many as `--resources gpu=N` allows. Images go
# to <out_dir>/<class>/<index>.png; a shard's CSV lists their per-image records
# (seed, prompt, settings, sha256). The model is resolved (and downloaded, if
# allowed) once, before any shard. With a `folder` source nothing is generated.

import re

from synth2real.data.generate.plan import shard_count, shard_indices

GENERATE = CFG.synthetic.source.kind == "diffusers"
N_SHARDS = shard_count(CFG.synthetic.source, CFG.max_size) if GENERATE else 0

# What the source manifest (data.smk) waits for: every generated shard, or nothing.
synthetic_inputs = ["results/generate/manifest.csv"] if GENERATE else []
SHARD_CSVS = [f"results/generate/{c}/shard{k}.csv" for c in CFG.classes for k in range(N_SHARDS)]


rule generator_model:
    output:
        info="results/generate/model.json",
    params:
        model_id=config["synthetic"]["source"].get("model_id"),
        revision=config["synthetic"]["source"].get("revision"),
    log:
        "results/logs/generate/generator_model.log",
    benchmark:
        "results/benchmarks/generate/generator_model.tsv"
    conda:
        "../../envs/generate.yaml"
    script:
        "../scripts/generator_model.py"


rule generate_shard:
    input:
        model="results/generate/model.json",
    output:
        csv="results/generate/{cls}/shard{shard}.csv",
    params:
        generator=config["synthetic"]["source"],
        # The shard's image indices, e.g. range(0, 100): a shard reruns only when its own
        # indices change (the last shard grows with the sizes), not on every size change.
        indices=lambda w: shard_indices(CFG.synthetic.source, CFG.max_size, int(w.shard)),
    wildcard_constraints:
        cls="|".join(re.escape(c) for c in CFG.classes),
        shard=r"\d+",
    # The GPU does the work; one CPU thread leaves cores to the other shards.
    threads: 1
    resources:
        gpu=1,
    log:
        "results/logs/generate/{cls}/shard{shard}.log",
    benchmark:
        "results/benchmarks/generate/{cls}/shard{shard}.tsv"
    conda:
        "../../envs/generate.yaml"
    script:
        "../scripts/generate_shard.py"


rule generation_manifest:
    input:
        shards=SHARD_CSVS,
    output:
        csv="results/generate/manifest.csv",
    params:
        classes=config["classes"],
        # Each class must list exactly images 0..max(sizes)-1.
        sizes=config["synthetic"]["sizes"],
    log:
        "results/logs/generate/generation_manifest.log",
    conda:
        "../../envs/generate.yaml"
    script:
        "../scripts/generation_manifest.py"
