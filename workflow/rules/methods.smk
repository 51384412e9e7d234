# Stage: the adaptation methods beyond the study (issue 5), each a variant over
# all seeds. Head-only methods reuse the cached features; resolution alignment
# and AdaBN each add ONE cached feature pass of their own.


rule features_aligned:
    input:
        source="results/data/source.csv",
        pool="results/data/pool.csv",
        onnx="results/backbone/backbone.onnx",
        info="results/backbone/backbone.json",
    output:
        npz="results/features/aligned/source.npz",
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
        info="results/backbone/backbone.json",
    output:
        onnx="results/backbone/adabn.onnx",
        pool_npz="results/features/adabn/pool.npz",
        test_npz="results/features/adabn/real_test.npz",
        stats="results/features/adabn/stats.json",
    params:
        features=config["features"],
        backbone=config["backbone"],
        adabn=config["methods"]["adabn"],
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
        heads=expand("results/heads/{{method}}/seed{seed}/head.pt", seed=SEEDS),
        metrics=expand("results/heads/{{method}}/seed{seed}/metrics.json", seed=SEEDS),
        provenance=expand("results/heads/{{method}}/seed{seed}/provenance.json", seed=SEEDS),
    wildcard_constraints:
        method="|".join(re.escape(m) for m in METHOD_VARIANTS) or "(?!)",
    params:
        # Rerun triggers: the method's own settings, the trainer and the seeds.
        spec=lambda w: METHOD_SPECS[w.method].params(),
        train=config["train"],
        source_size=config["pseudo_label"]["source_size"],
        domain_sample=config["methods"]["domain_sample"],
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
        dann=embedding_dann_head(),
    output:
        npz="results/domain/tsne.npz",
    params:
        pairs=embedding_pairs(),
        methods=config["methods"],
        seeds=SEEDS,
    log:
        "results/logs/report/domain_embedding.log",
    benchmark:
        "results/benchmarks/report/domain_embedding.tsv"
    conda:
        "../../envs/train.yaml"
    script:
        "../scripts/domain_embedding.py"
