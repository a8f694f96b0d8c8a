#!/usr/bin/env bash
# Copies kernel sources (.cu, .cuh) from SRC to DST, rewriting each one-line declaration
#   extern __shared__ [__align__(n)] TYPE NAME[];    (TYPE: one name, optionally after unsigned/signed/long/short/const;
#                                                     the __align__ may also follow TYPE)
# into `TYPE* const NAME = reinterpret_cast<TYPE*>(::emu::dynamic_shared());`, which g++ can compile
# (cuda_emu.hpp defines __shared__ as static). Usage: emu_prep.sh SRC DST (run.sh prepares src/Aim.Engine.Cuda/Kernels).
set -euo pipefail
src=$1 dst=$2
mkdir -p "$dst"
for f in "$src"/*.cu "$src"/*.cuh; do
    [ -e "$f" ] || continue
    sed -E 's/extern[[:space:]]+__shared__[[:space:]]+(__align__\([0-9]+\)[[:space:]]+)?(((unsigned|signed|long|short|const)[[:space:]]+)*[A-Za-z_][A-Za-z0-9_:]*)[[:space:]]+(__align__\([0-9]+\)[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\[[[:space:]]*\][[:space:]]*;/\2* const \6 = reinterpret_cast<\2*>(::emu::dynamic_shared());/' \
        "$f" > "$dst/$(basename "$f")"
    if grep -q 'extern[[:space:]]*__shared__' "$dst/$(basename "$f")"; then
        echo "emu_prep.sh: $(basename "$f"): an extern __shared__ declaration is not of the one-line form above" >&2
        exit 1
    fi
done
