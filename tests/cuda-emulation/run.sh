#!/usr/bin/env bash
# Builds and runs the CUDA-on-CPU emulation checks (README.md): the emulation self-test, ssd.cu's / ssd_backward.cu's SsdScan
# forward / backward kernels on cases written by `Aim.Cuda.Check --emit-ssd` against float64 references, and
# sample.cu's sample_tokens on cases of `Aim.Cuda.Check --emit-sample` (exact comparison), GatedRmsNormMatMul's
# composition (norm.cu's rms_norm_f32 on strided rows, then skinny_gemm.cu's skinny_gemm_bf16) and skinny_gemm_bf16
# alone on cases of `--emit-norm-gemm`, conv1d.cu's CausalConv1d forward / backward kernels on cases of `--emit-conv`,
# sum_to.cu's row / column SumTo kernels on cases built in sum_to_check.cpp (no emitted cases),
# ssm_step.cu's ssm_step_f32 (decode_step.cuh's step_ssm_rows) on cases built in ssm_step_check.cpp (no emitted cases),
# MambaDecodeLayer's fused CUDA mixer (skinny_gemm_conv_k<K>_bf16, ssm_step_gated_f32, skinny_gemm_rownorm_bf16) against its
# six-kernel composition (decode_layer_check.cpp, no emitted cases),
# norm.cu's gated RMSNorm forward / backward / weight gradient on row views of x and z and AddRmsNorm forward / backward, both
# backward paths (the fused rms_norm_backward_wgrad, the team-of-warps-a-row rms_norm_backward_rows and the wide-row one),
# ModulatedAddRmsNorm's f32 and bf16-output kernels (gated_norm_check.cpp, no emitted cases),
# optim.cu's list kernels bit for bit against the single-tensor kernels (optim_check.cpp, no emitted cases), and
# modulate.cu's row modulation forward / backward (modulate_check.cpp, no emitted cases), and copy.cu's flat and row
# copies bit for bit against the generic strided copy (copy_check.cpp, no emitted cases; built with -fsanitize=alignment).
# Usage: tests/cuda-emulation/run.sh [--no-emit] [case-name-substring]
#   --no-emit   reuse build/cases and build/sample-cases from an earlier run instead of rebuilding
#               Aim.Cuda.Check and re-emitting
#   a case-name substring filters the SSD, sampling, norm-gemm, conv, SumTo, gated-norm, modulate and copy cases
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$here/build"
emit=1
filter=""
for arg in "$@"; do
    case "$arg" in
        --no-emit) emit=0 ;;
        *) filter="$arg" ;;
    esac
done
mkdir -p "$build"
CXX=${CXX:-g++}
CXXFLAGS=(-std=c++20 -O2 -pthread -ffp-contract=off -fno-strict-aliasing -Wall -Wno-unknown-pragmas)

"$here/emu_prep.sh" "$root/src/Aim.Engine.Cuda/Kernels" "$build/kernels"
echo "== building emu_selftest, ssd_check, sample_check, normgemm_check, conv_check, sum_to_check, ssm_step_check, decode_layer_check, gated_norm_check, optim_check, modulate_check, copy_check ($CXX)"
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" "$here/emu_selftest.cpp" -o "$build/emu_selftest" &
p1=$!
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" -I"$build/kernels" "$here/ssd_check.cpp" -o "$build/ssd_check" &
p2=$!
wait $p1
wait $p2
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" -I"$build/kernels" "$here/sample_check.cpp" -o "$build/sample_check"
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" -I"$build/kernels" "$here/normgemm_check.cpp" -o "$build/normgemm_check" &
p4=$!
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" -I"$build/kernels" "$here/conv_check.cpp" -o "$build/conv_check"
wait $p4
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" -I"$build/kernels" "$here/sum_to_check.cpp" -o "$build/sum_to_check" &
p6=$!
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" -I"$build/kernels" "$here/ssm_step_check.cpp" -o "$build/ssm_step_check"
wait $p6
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" -I"$build/kernels" "$here/decode_layer_check.cpp" -o "$build/decode_layer_check"
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" -I"$build/kernels" "$here/gated_norm_check.cpp" -o "$build/gated_norm_check"
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" -I"$build/kernels" "$here/optim_check.cpp" -o "$build/optim_check"
"$CXX" "${CXXFLAGS[@]}" -I"$here" -I"$here/include" -I"$build/kernels" "$here/modulate_check.cpp" -o "$build/modulate_check"
"$CXX" "${CXXFLAGS[@]}" -fsanitize=alignment -fno-sanitize-recover=all -I"$here" -I"$here/include" -I"$build/kernels" \
    "$here/copy_check.cpp" -o "$build/copy_check"

if [ "$emit" = 1 ] || [ ! -f "$build/cases/manifest.txt" ] || [ ! -f "$build/sample-cases/manifest.txt" ] \
    || [ ! -f "$build/norm-gemm-cases/manifest.txt" ] \
    || [ ! -f "$build/conv-cases/manifest.txt" ]; then
    echo "== emitting cases (Aim.Cuda.Check --emit-ssd, --emit-sample, --emit-norm-gemm, --emit-conv)"
    dotnet build "$root/tests/Aim.Cuda.Check" -v q -nologo > "$build/dotnet-build.log" 2>&1 || { cat "$build/dotnet-build.log"; exit 1; }
    dll=$(ls "$root"/tests/Aim.Cuda.Check/bin/Debug/net*/Aim.Cuda.Check.dll | head -n 1)
    rm -rf "$build/cases" "$build/sample-cases" "$build/norm-gemm-cases" "$build/conv-cases"
    dotnet "$dll" --emit-ssd "$build/cases"
    dotnet "$dll" --emit-sample "$build/sample-cases"
    dotnet "$dll" --emit-norm-gemm "$build/norm-gemm-cases"
    dotnet "$dll" --emit-conv "$build/conv-cases"
fi

status=0
echo "== emu_selftest"
"$build/emu_selftest" || status=1
echo "== ssd_check"
"$build/ssd_check" "$build/cases" $filter || status=1
echo "== sample_check"
"$build/sample_check" "$build/sample-cases" $filter || status=1
echo "== normgemm_check"
"$build/normgemm_check" "$build/norm-gemm-cases" $filter || status=1
echo "== conv_check"
"$build/conv_check" "$build/conv-cases" $filter || status=1
echo "== sum_to_check"
"$build/sum_to_check" $filter || status=1
echo "== ssm_step_check"
"$build/ssm_step_check" $filter || status=1
echo "== decode_layer_check"
"$build/decode_layer_check" $filter || status=1
echo "== gated_norm_check"
"$build/gated_norm_check" $filter || status=1
echo "== optim_check"
"$build/optim_check" $filter || status=1
echo "== modulate_check"
"$build/modulate_check" $filter || status=1
echo "== copy_check"
"$build/copy_check" $filter || status=1
if [ $status = 0 ]; then echo "cuda-emulation: all checks pass"; else echo "cuda-emulation: FAILURES"; fi
exit $status
