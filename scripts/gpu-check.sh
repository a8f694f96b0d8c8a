#!/usr/bin/env bash
# Runs on the GPU machine from the folder scripts/pack-gpu-check.sh packed (.device/): every CUDA check (harness
# cases, CUDA-only checks incl. the SSD matrix engines, golden fixtures), the kernel timing tables, the decode benchmark and a profiled training step. Logs go to $OUT (or ./out);
# the last lines are a summary. A device call may run 10 minutes: if `all` does not fit, run the parts separately.
# Usage: bash .device/gpu-check.sh [all|checks|perf|tables]
#   checks   Aim.Cuda.Check with the fixtures and the timing tables
#   perf     aim bench train (profiled, TF32; bf16) and aim bench generate
#   tables   the README's speed tables: generate AiM-B bf16/f32, AiM-L, AiM-XL at batch 1-256; train AiM-B f32,
#            TF32, bf16 and AiM-L, AiM-XL bf16 at batch 32 (about 4 minutes; not part of `all`)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/out}
mode=${1:-all}
case "$mode" in all|checks|perf|tables) ;; *) echo "gpu-check: unknown mode '$mode' (all, checks, perf or tables)" >&2; exit 2 ;; esac
mkdir -p "$out"
cd "$here"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
echo "== $(cat "$out/gpu.txt")"
status=0
if [ "$mode" = tables ]; then
    for spec in "aim-b bf16" "aim-b f32" "aim-l bf16" "aim-xl bf16"; do
        set -- $spec
        bash run.sh dotnet Aim.Cli/aim.dll bench generate --device cuda --model "$1" --weights "$2" --batch 1,16,64,256 > "$out/gen-$1-$2.txt" 2>&1 || status=1
        grep -E "│ aim|rror" "$out/gen-$1-$2.txt"
    done
    for spec in "aim-b fp32" "aim-b fp32 --tf32" "aim-b bf16" "aim-l bf16" "aim-xl bf16"; do
        set -- $spec
        bash run.sh dotnet Aim.Cli/aim.dll bench train --device cuda --model "$1" --batch 32 --steps 10 --precision "$2" ${3:-} > "$out/train-$1-$2${3:-}.txt" 2>&1 || status=1
        grep -E "│ aim|rror" "$out/train-$1-$2${3:-}.txt"
    done
    echo "gpu-check $mode: exit $status"
    exit $status
fi
if [ "$mode" != perf ]; then
    bash run.sh dotnet Aim.Cuda.Check/Aim.Cuda.Check.dll --fixtures fixtures --decode-perf > "$out/cuda-check.txt" 2>&1 || status=1
    grep -E "FAIL" "$out/cuda-check.txt" | head -20
    grep -E "pass, .* unsupported, .* fail" "$out/cuda-check.txt" | tail -1
    grep -E "SsdScan" "$out/cuda-check.txt" | grep -E "ms|median" | head -20
fi
if [ "$mode" != checks ]; then
    bash run.sh dotnet Aim.Cli/aim.dll bench train --device cuda --model aim-b --batch 32 --steps 3 --tf32 --profile > "$out/train-profile.txt" 2>&1 || status=1
    bash run.sh dotnet Aim.Cli/aim.dll bench train --device cuda --model aim-b --batch 32 --steps 3 --precision bf16 > "$out/train-bf16.txt" 2>&1 || status=1
    bash run.sh dotnet Aim.Cli/aim.dll bench generate --device cuda --model aim-b --weights bf16 > "$out/generate.txt" 2>&1 || status=1
    grep -E "^step [0-9]|tokens/s|aim-b|total|Ssd|Gemm" "$out/train-profile.txt" | head -30
    grep -E "^step [0-9]|aim-b" "$out/train-bf16.txt"
    tail -12 "$out/generate.txt"
fi
echo "gpu-check $mode: exit $status"
exit $status
