#!/usr/bin/env bash
# Runs on the GPU machine from the folder scripts/pack-gpu-check.sh packed (.device/): every CUDA check (harness
# cases, CUDA-only checks incl. the SSD matrix engines, golden fixtures), the kernel timing tables, the decode
# benchmark and a profiled training step. Logs go to $OUT (or ./out); the last lines are a summary.
# Usage: bash .device/gpu-check.sh [--quick]     (--quick: checks only, no timings or benchmarks)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/out}
mkdir -p "$out"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
cd "$here"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
perf=(--decode-perf)
[ $quick = 1 ] && perf=(--no-perf)
bash run.sh dotnet Aim.Cuda.Check/Aim.Cuda.Check.dll --fixtures fixtures "${perf[@]}" > "$out/cuda-check.txt" 2>&1
check_rc=$?
if [ $quick = 0 ]; then
    bash run.sh dotnet Aim.Cli/aim.dll bench train --device cuda --model aim-b --batch 32 --steps 3 --tf32 --profile > "$out/train-profile.txt" 2>&1
    bash run.sh dotnet Aim.Cli/aim.dll bench train --device cuda --model aim-b --batch 32 --steps 3 --precision bf16 > "$out/train-bf16.txt" 2>&1
    bash run.sh dotnet Aim.Cli/aim.dll bench generate --device cuda --model aim-b --weights bf16 > "$out/generate.txt" 2>&1
fi
echo "== $(cat "$out/gpu.txt")"
grep -E "FAIL" "$out/cuda-check.txt" | head -20
grep -E "pass, .* unsupported, .* fail" "$out/cuda-check.txt" | tail -1
echo "Aim.Cuda.Check exit $check_rc"
if [ $quick = 0 ]; then
    grep -E "SsdScan" "$out/cuda-check.txt" | grep -E "ms|median" | head -20
    grep -E "^step [0-9]|tokens/s|total|Ssd|Gemm" "$out/train-profile.txt" | head -28
    tail -6 "$out/train-bf16.txt"
    tail -12 "$out/generate.txt"
fi
exit $check_rc
