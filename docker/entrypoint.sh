#!/usr/bin/env bash
# Container entry point: run the whole workflow with /out as its working
# directory (results/, models/, paper/main.pdf land there) and the source in
# /app. Extra arguments go to snakemake (e.g. --configfile, --config, -n).
set -euo pipefail

for dir in /out /cache; do
  if ! touch "$dir/.write-test" 2>/dev/null; then
    echo "synth2real: $dir is not writable by uid $(id -u). Create the host folder yourself" >&2
    echo "before starting (mkdir -p reproduced), or chown it to uid $(id -u)." >&2
    exit 1
  fi
  rm -f "$dir/.write-test"
done

exec snakemake --snakefile /app/Snakefile --directory /out \
  --workflow-profile /app/profiles/local "$@"
