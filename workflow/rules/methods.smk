import re

# Stage: the adaptation method variants beyond the study, each a combination of
# parts (config `methods.variants`) trained over all seeds. Head-only parts reuse
# the cached features; resolution alignment and AdaBN each add ONE feature pass.


rule features_aligned:
    input:
        source="results/data/source.csv",
        pool="results/data/pool.csv",
        onnx="results/backbone/backbone.onnx",
        info="results/backbone/backbone.json",
    output:
        npz=FEATURE_FILES[("source", "aligned")],
        stats="results/features/aligned/source.stats.json",
    params:
        features=config["features"],
        align=config["methods"]["align"],
    threads: workflow.cores
    log:
        "results/logs/features/aligned_source.log",
    benchmark:
        "results/benchmarks/features/aligned_source.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/features_aligned.py"


rule features_adabn:
    input:
        pool="results/data/pool.csv",
        test="results/data/real_test.csv",
        target="results/data/target.csv",
        info="results/backbone/backbone.json",
    output:
        onnx="results/backbone/adabn.onnx",
        pool_npz=FEATURE_FILES[("pool", "adabn")],
        test_npz=FEATURE_FILES[("real_test", "adabn")],
        target_npz=FEATURE_FILES[("target", "adabn")],
        stats="results/features/adabn/stats.json",
    params:
        features=config["features"],
        adabn=config["methods"]["adabn"],
        export=config["export"],
        data_seed=config["data_seed"],
    threads: workflow.cores
    log:
        "results/logs/features/adabn.log",
    benchmark:
        "results/benchmarks/features/adabn.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/features_adabn.py"


rule train_method:
    input:
        unpack(method_inputs),
    output:
        heads=per_seed("{method}", "head.pt"),
        metrics=per_seed("{method}", "metrics.json"),
        provenance=per_seed("{method}", "provenance.json"),
    wildcard_constraints:
        method="|".join(re.escape(m) for m in METHOD_VARIANTS) or "(?!)",
    params:
        # The variant's parts and the settings of the parts it uses (its rerun trigger).
        spec=lambda w: CFG.methods.spec(w.method, CFG.pseudo_label.threshold),
        train=config["train"],
        source_size=config["pseudo_label"]["source_size"],
        domain_sample=config["methods"]["domain_sample"],
        data_seed=config["data_seed"],
        classes=config["classes"],
        seeds=SEEDS,
    log:
        "results/logs/train/{method}.log",
    benchmark:
        "results/benchmarks/train/{method}.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/train_method.py"


rule domain_embedding:
    input:
        source="results/data/source.csv",
        npz=[f for pair in embedding_pairs().values() for f in pair],
        dann=embedding_dann_checkpoint(),
    output:
        npz="results/domain/tsne.npz",
    params:
        pairs=embedding_pairs(),
        source_size=config["pseudo_label"]["source_size"],
        domain_sample=config["methods"]["domain_sample"],
        data_seed=config["data_seed"],
        seeds=SEEDS,
    log:
        "results/logs/report/domain_embedding.log",
    benchmark:
        "results/benchmarks/report/domain_embedding.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/domain_embedding.py"
