#!/usr/bin/env bash
# Runs on the GPU machine from the folder scripts/pack-gpu-check.sh packed (.device/): every CUDA check (harness
# cases, CUDA-only checks incl. the SSD matrix engines, golden fixtures, once more with the opt-in persistent decode
# kernel), the kernel timing tables, the decode benchmark and a profiled training step. Logs go to $OUT (or ./out);
# the last lines are a summary. A device call may run 10 minutes: if `all` does not fit, run the parts separately.
# Usage: bash .device/gpu-check.sh [all|checks|perf]
#   checks   Aim.Cuda.Check with the fixtures and the timing tables, then its harness with AIM_PERSISTENT_DECODE=1
#   perf     aim bench train (profiled, fp32 + TF32; bf16) and aim bench generate (default and persistent decode)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/out}
mode=${1:-all}
case "$mode" in all|checks|perf) ;; *) echo "gpu-check: unknown mode '$mode' (all, checks or perf)" >&2; exit 2 ;; esac
mkdir -p "$out"
cd "$here"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
echo "== $(cat "$out/gpu.txt")"
status=0
if [ "$mode" != perf ]; then
    bash run.sh dotnet Aim.Cuda.Check/Aim.Cuda.Check.dll --fixtures fixtures --decode-perf > "$out/cuda-check.txt" 2>&1 || status=1
    # The persistent per-layer decode kernel (CudaKernels.PersistentDecodeLayer) runs its harness cases only when on.
    AIM_PERSISTENT_DECODE=1 bash run.sh dotnet Aim.Cuda.Check/Aim.Cuda.Check.dll --no-perf --cases MambaDecodeLayer > "$out/cuda-check-persistent.txt" 2>&1 || status=1
    grep -E "FAIL" "$out/cuda-check.txt" "$out/cuda-check-persistent.txt" | head -20
    grep -E "pass, .* unsupported, .* fail" "$out/cuda-check.txt" | tail -1
    grep -E "pass, .* unsupported, .* fail" "$out/cuda-check-persistent.txt" | tail -1
    grep -E "SsdScan" "$out/cuda-check.txt" | grep -E "ms|median" | head -20
fi
if [ "$mode" != checks ]; then
    bash run.sh dotnet Aim.Cli/aim.dll bench train --device cuda --model aim-b --batch 32 --steps 3 --tf32 --profile > "$out/train-profile.txt" 2>&1 || status=1
    bash run.sh dotnet Aim.Cli/aim.dll bench train --device cuda --model aim-b --batch 32 --steps 3 --precision bf16 > "$out/train-bf16.txt" 2>&1 || status=1
    bash run.sh dotnet Aim.Cli/aim.dll bench generate --device cuda --model aim-b --weights bf16 > "$out/generate.txt" 2>&1 || status=1
    AIM_PERSISTENT_DECODE=1 bash run.sh dotnet Aim.Cli/aim.dll bench generate --device cuda --model aim-b --weights bf16 --batch 1,16 > "$out/generate-persistent.txt" 2>&1 || status=1
    grep -E "^step [0-9]|tokens/s|aim-b|total|Ssd|Gemm" "$out/train-profile.txt" | head -30
    grep -E "^step [0-9]|aim-b" "$out/train-bf16.txt"
    tail -12 "$out/generate.txt"
    tail -6 "$out/generate-persistent.txt"
fi
echo "gpu-check $mode: exit $status"
exit $status
