#!/usr/bin/env bash
# Packs .device/ for the GPU-machine calls that check and measure everything (scripts/gpu-check.sh): the
# published Aim.Cuda.Check and aim tools, the device wrapper (scripts/device-run.sh, which finds NVRTC/cuBLAS in
# the image's Python packages) and the golden fixtures without their float64/intermediate files. Keeps the carry
# under the 64 MiB limit by dropping what the GPU runs do not use (SkiaSharp natives, the built-in model copy).
# Usage, from the project root on this machine:
#   scripts/pack-gpu-check.sh [FIXTURES_ROOT]     (default ../shared/fixtures)
# then one device call with carry [".device"]:
#   bash .device/gpu-check.sh [all|checks|perf]   (logs under $OUT, a summary printed last; `checks` and `perf`
#                                                  each fit a 10-minute call)
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
fixtures=${1:-../shared/fixtures}
prepare=../shared/tools/device/prepare.sh
[ -x "$prepare" ] || { echo "pack-gpu-check: $prepare not found (run from the project root next to ../shared)" >&2; exit 1; }
[ -d "$fixtures" ] || { echo "pack-gpu-check: no fixtures folder $fixtures" >&2; exit 1; }
"$prepare" tests/Aim.Cuda.Check src/Aim.Cli
cp scripts/device-run.sh .device/run.sh
cp scripts/gpu-check.sh .device/gpu-check.sh
rm -rf .device/Aim.Cli/runtimes .device/Aim.Cli/models .device/Aim.Cli/libSkiaSharp* .device/Aim.Cuda.Check/runtimes .device/Aim.Cuda.Check/libSkiaSharp*
rm -rf .device/fixtures
mkdir -p .device/fixtures
(cd "$fixtures" && find . -type f ! -name '*_f64*' ! -name 'intermediates*' -print0) | while IFS= read -r -d '' f; do
    mkdir -p ".device/fixtures/$(dirname "$f")"
    cp "$fixtures/$f" ".device/fixtures/$f"
done
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
packed=$(du -sb .device | cut -f1)
echo "pack-gpu-check: .device $((packed / 1048576)) MiB + tracked files $((tracked / 1048576)) MiB (limit 64 MiB)"
