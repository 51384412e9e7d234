"""Developer tools around the workflow: benchmarks, weight download, conda envs, doctor."""
