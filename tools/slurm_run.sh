#!/usr/bin/env bash
# One srun launch shared by slurm_train.sh and slurm_test.sh:
#   tools/slurm_run.sh SCRIPT PARTITION JOB_NAME [SCRIPT args]
# SCRIPT: train.py or test.py beside this file. GPUS (total, default 8),
# GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS, PYTHON.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 SCRIPT PARTITION JOB_NAME [SCRIPT args]" >&2
    exit 2
fi
SCRIPT=$1
PARTITION=$2
JOB_NAME=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$(dirname "$0")/$SCRIPT" "${@:4}" --launcher=slurm
