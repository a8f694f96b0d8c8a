// GatedRmsNormMatMul (IKernels.NormLinear.cs) on CUDA: for bf16 weights and decode-sized inputs (M ≤ 16 rows whose
// normalised copy fits in shared memory) one launch of skinny_gemm.cu's gated_norm_skinny_gemm_bf16 in place of
// norm.cu's rms_norm_f32 + skinny_gemm_bf16; otherwise the composition of GatedRmsNorm and Gemm (NormLinearChecks).
// The fused kernel uses the unfused kernels' reduction order and split, so both paths give the same result.
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    // The normalised rows live in dynamic shared memory; without an opt-in a block gets 48 KB in all, and the kernel's
    // static arrays (skinny_gemv's partial sums, the reduction slots: under 1 KB) come out of the same budget.
    private const int NormGemmMaxRowBytes = MaxDynamicSharedBytes - 1024;

    /// <inheritdoc />
    public void GatedRmsNormMatMul(Tensor x, Tensor z, Tensor normWeight, double eps, int groupSize, Tensor weight, Tensor output)
    {
        const string op = nameof(GatedRmsNormMatMul);
        OnDevice(op, x, z, normWeight, weight, output);
        var s = NormLinearChecks.Check(op, x, z, normWeight, groupSize, weight, output);
        F32(op, x);
        long rowBytes = (long)s.M * s.K * sizeof(float);
        if (weight.DType != DType.BFloat16 || s.M == 0 || s.M > SkinnyMaxRows || s.N == 0 || s.K == 0 || rowBytes > NormGemmMaxRowBytes)
        {
            NormLinearChecks.Compose(this, s, x, z, normWeight, eps, groupSize, weight, output);
            return;
        }
        long sxm = x.Strides[0], szm = z.Strides[0], swn = weight.Strides[0];
        bool nvec = s.K % 4 == 0 && sxm % 4 == 0 && szm % 4 == 0 && Ptr(x) % 16 == 0 && Ptr(z) % 16 == 0;
        bool vec = s.K % 8 == 0 && swn % 8 == 0 && Ptr(weight) % 16 == 0;
        int split = SkinnySplit(s.N, s.K), columnsPerBlock = SkinnyWarps / split;
        var args = new KernelArgs(stackalloc byte[192], stackalloc nint[20]);
        args.Add(Ptr(x));
        args.Add(sxm);
        args.Add(Ptr(z));
        args.Add(szm);
        args.Add(Ptr(normWeight));
        args.Add((float)eps);
        args.Add(groupSize);
        args.Add((int)RowThreads(groupSize)); // norm.cu's threads per segment: the reduction order the kernel reproduces
        args.Add(Ptr(weight));
        args.Add(swn);
        args.Add(Ptr(output));
        args.Add(s.M);
        args.Add(s.N);
        args.Add(s.K);
        args.Add(nvec ? 1 : 0);
        args.Add(vec ? 1 : 0);
        args.Add(split);
        Launch(Function("skinny_gemm.cu", "gated_norm_skinny_gemm_bf16"), (uint)((s.N + columnsPerBlock - 1) / columnsPerBlock),
            SkinnyWarps * 32, (uint)rowBytes, args);
    }
}
