#!/usr/bin/env bash
# GPU machine: find NVRTC/cuBLAS 13 (in the image's Python nvidia packages: the image has no CUDA toolkit folders
# the resolver searches), export them as AIM_CUDA_LIBS, then run a command from the folder prepare.sh packed.
# Usage, after `../shared/tools/device/prepare.sh tests/Aim.Cuda.Check src/Aim.Cli` and `cp scripts/device-run.sh
# .device/run.sh` here, on the device (carry [".device"]):
#   cd .device && bash run.sh dotnet Aim.Cuda.Check/Aim.Cuda.Check.dll --fixtures fixtures --decode-perf
#   cd .device && bash run.sh dotnet Aim.Cli/aim.dll bench generate --device cuda --weights bf16
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
libs=$(python3 - <<'PY'
import glob, os, site
dirs = set()
for sp in site.getsitepackages():
    for name in ("libnvrtc.so.13", "libcublas.so.13"):
        for f in glob.glob(os.path.join(sp, "nvidia", "**", name), recursive=True):
            dirs.add(os.path.dirname(f))
print(":".join(sorted(dirs)))
PY
)
export AIM_CUDA_LIBS=$libs
bash "$here/remote.sh" "$@"
