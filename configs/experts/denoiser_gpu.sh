#!/usr/bin/env bash
# gir-denoiser on a lent GPU (the `device` tool), from the project's own config, in under 10 minutes; the
# weights land in $OUT. Nothing in the tests or CI depends on it.
#
# Here, once (the training photos travel with the working tree, ignored by git; 38 MiB of the 64 allowed):
#   echo /.gpu_data/ >> .git/info/exclude
#   mkdir -p .gpu_data && cp -r ../shared/data/train/bsds500 ../shared/data/train/t91 .gpu_data/
# Then the device run: carry [".gpu_data"], command `bash configs/experts/denoiser_gpu.sh`, timeout_s 600.
# Smoke test on the CPU: DEVICE=cpu ITERATIONS=2 BATCH=2 OUT=/tmp/gpu bash configs/experts/denoiser_gpu.sh
#
# The device image has torch, OpenCV, SciPy, safetensors, PyYAML (KINDS.md), so gir runs from src/ unchanged.
# It continues from the shipped weights (init), at batch 32 with bf16 autocast and 8 loader workers.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/gpu}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
"$PY" -m gir.training configs/experts/denoiser.yaml --out-dir "$OUT/run" \
    --set "data.train.roots=[.gpu_data/bsds500,.gpu_data/t91]" --set "data.val.roots=[.gpu_data/t91]" \
    --set "init.path=src/gir/weights/gir-denoiser.safetensors" --set "train.device=${DEVICE:-cuda}" \
    --set "train.amp=${AMP:-bf16}" --set "train.batch_size=${BATCH:-32}" --set "train.iterations=${ITERATIONS:-8000}" \
    --set train.threads=null --set "data.train.num_workers=${WORKERS:-8}" --set train.val_interval=0 \
    --set train.save_interval=1000 --set schedule.warmup=100
"$PY" -m gir.cli export "$OUT/run/models/net_latest.safetensors" "$OUT/gir-denoiser.safetensors" --fp16
