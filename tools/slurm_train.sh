#!/usr/bin/env bash
# SLURM training: tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
# GPUS (total, default 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS.
#
# Preemption: train.py saves a checkpoint and exits with status 75 on
# SIGTERM or SIGUSR1 (PreemptionHook). Inside an sbatch job (SLURM_JOB_ID
# set) this script then requeues the job, which resumes with --resume:
#   sbatch --requeue --signal=USR1@120 -p PARTITION --wrap \
#       "tools/slurm_train.sh PARTITION JOB CONFIG WORK_DIR --resume"
# See docs/en/cluster_training.md.
set -uo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]" >&2
    exit 2
fi
PREEMPTED=75  # uniformer_mm.checkpoints.hooks.PREEMPTED_EXIT_STATUS
bash "$(dirname "$0")/slurm_run.sh" train.py "$1" "$2" "$3" \
    --work-dir="$4" "${@:5}"
status=$?
if [ "$status" -eq "$PREEMPTED" ]; then
    if [ -n "${SLURM_JOB_ID:-}" ]; then
        echo "preempted: checkpoint saved in $4; requeueing job $SLURM_JOB_ID" >&2
        scontrol requeue "$SLURM_JOB_ID"
    else
        echo "preempted: checkpoint saved in $4; rerun with --resume" >&2
    fi
fi
exit "$status"
