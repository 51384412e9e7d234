#!/usr/bin/env bash
# Container entry point: run the whole workflow with $OUT (default /out) as its
# working directory (results/, models/, paper/main.pdf land there) and the
# source in /app. Extra arguments go to snakemake (e.g. --configfile, --config, -n).
set -euo pipefail
OUT=${OUT:-/out}

for dir in "$OUT" /cache; do
  mkdir -p "$dir" 2>/dev/null || true
  if ! touch "$dir/.write-test" 2>/dev/null; then
    echo "synth2real: $dir is not writable by uid $(id -u). Create the host folder yourself" >&2
    echo "before starting (mkdir -p reproduced), or chown it to uid $(id -u)." >&2
    exit 1
  fi
  rm -f "$dir/.write-test"
done

# The global `gpu` resource of profiles/local: the GPUs this container sees.
SYNTH2REAL_GPUS=${SYNTH2REAL_GPUS:-$(/app/profiles/local/visible-gpus)}
export SYNTH2REAL_GPUS

exec snakemake --snakefile /app/Snakefile --directory "$OUT" \
  --workflow-profile /app/profiles/local "$@"
