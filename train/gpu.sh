#!/bin/bash
# One training run on a rented GPU machine (see train/README.md): renders the
# world with the prebuilt bin/mkworld, trains within a wall-clock deadline and
# leaves the exported float16 model folder, as a tar split into 15 MB parts,
# and the log under $OUT.
#   usage: train/gpu.sh SECONDS_AVAILABLE [N_IMAGES] [VAE_SECONDS] [TRAIN.PY FLAGS...]
set -u
export PYTHONUNBUFFERED=1
start=$(date +%s)
limit=${1:-540}
n=${2:-100000}
vae=${3:-100}
shift $(( $# < 3 ? $# : 3 ))
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
./bin/mkworld -n "$n" -seed 1 -k 4 -split train -out /tmp/world || exit 1
echo "rendered $n images in $(( $(date +%s) - start ))s"
# What is left for training, less ~20 s to start Python and load the images,
# ~15 s to encode them, and ~35 s for exports and packing at the end.
left=$(( limit - ($(date +%s) - start) - 70 ))
unet=$(( left - vae ))
echo "training budget: vae ${vae}s unet ${unet}s"
timeout $(( left + 50 )) "${PYTHON:-python3}" train/train.py --data /tmp/world --export /tmp/model/builtin \
  --vae-seconds "$vae" --unet-seconds "$unet" --batch-vae "${BV:-64}" --batch-unet "${BU:-512}" --batch-encode 1024 \
  --log-every 15 --export-every 60 "$@" 2>&1 | tee "$OUT/train.log"
echo "python exit ${PIPESTATUS[0]} after $(( $(date +%s) - start ))s"
tar cf /tmp/model.tar -C /tmp/model builtin && split -b 15M /tmp/model.tar "$OUT/model.tar."
ls -la "$OUT"
