#!/usr/bin/env bash
# A stand-in for sbatch/qsub for the cluster-generic executor: start the job
# script given as the last argument as its own detached process and print its
# id. Snakemake then only sees the job's output files and its
# jobfinished/jobfailed markers, as on a real cluster. Every submission is
# recorded in $SUBMIT_RECORD_DIR (a copy of the job script named after the pid).
set -euo pipefail
jobscript="${!#}"
setsid bash "$jobscript" > "$jobscript.out" 2>&1 < /dev/null &
pid=$!
cp "$jobscript" "$SUBMIT_RECORD_DIR/job-$pid.sh"
echo "$pid"
