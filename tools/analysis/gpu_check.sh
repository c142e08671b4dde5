#!/usr/bin/env bash
# tools/analysis/gpu_check.sh -- the checks only a CUDA machine can run
# (about 8 minutes on one GPU):
#   1. tools/dry_run.py with the configs' own AMP on CUDA, one config per task
#      (train, checkpoint, resume, test on stand-in data; the configs' own
#      input sizes);
#   2. tools/analysis/benchmark.py --device cuda --sections backbone.
# Run from the repository root with the project's environment:
#   bash tools/analysis/gpu_check.sh [OUT_DIR]
# Each step's last lines go to OUT_DIR/summary.txt (default work_dirs/gpu_check).
# Nothing in the project depends on this script.
set -uo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python
OUT="${1:-work_dirs/gpu_check}"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA device visible to torch; this script is for a GPU machine" >&2
    exit 2
fi
"$PY" -c 'import torch; print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)' | tee -a "$SUMMARY"

CONFIGS=(
    configs/detection/mask-rcnn_uniformer-s-h14_fpn_1x_coco.py
    configs/segmentation/upernet_uniformer-s-h14_8xb2-160k_ade20k-512x512.py
    configs/pose/td-hm_uniformer-s_8xb128-210e_coco-256x192.py
    configs/video/uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py
)
status=0
for cfg in "${CONFIGS[@]}"; do
    name=$(basename "$cfg" .py)
    start=$SECONDS
    timeout 150 "$PY" tools/dry_run.py "$cfg" --work-dir "$OUT/$name" \
        --standin-dir "$OUT/standin" > "$OUT/$name.log" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] || status=1
    { echo "$cfg ($((SECONDS - start)) s, exit $rc):";
      grep -E '^dry-run: change: optim_wrapper|^dry-run (ok|FAILED)' "$OUT/$name.log" | sed 's/^/  /'; } | tee -a "$SUMMARY"
    rm -f "$OUT/$name"/*.pth  # keep the logs, not the checkpoints
done

timeout 180 "$PY" tools/analysis/benchmark.py --device cuda --sections backbone \
    > "$OUT/benchmark.log" 2>&1 || status=1
tail -n 25 "$OUT/benchmark.log" | tee -a "$SUMMARY"
exit $status
