// Gemm on CUDA through cuBLAS (cublasGemmStridedBatchedEx) for row-major tensors (ANCHORS.md 8.7, "cuBLAS").
//
// TF32 policy: float32 GEMMs run in full float32 (CUBLAS_COMPUTE_32F, default math mode) unless
// CudaKernels.AllowTf32 is set, which switches to CUBLAS_COMPUTE_32F_FAST_TF32 (10-bit mantissa inputs,
// float32 accumulation, NMSE near 1e-7 instead of 1e-14). Off by default so that the harness's float32
// tolerances hold; llm.c enables it by default, tinygrad gates it behind ALLOW_TF32. bf16 inputs and outputs
// always accumulate in float32 (CUBLAS_COMPUTE_32F) on the tensor cores; float64 uses CUBLAS_COMPUTE_64F.
using Aim.Engine.Cuda.Interop;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Tensors;
using static Aim.Engine.Cuda.Interop.CuBlas;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private CuBlasHandle? _cublas;

    /// <summary>When true, float32 GEMMs may use TF32 tensor-core math (see the policy at the top of Gemm.cs). Default false.</summary>
    public bool AllowTf32 { get; set; }

    /// <inheritdoc />
    public void Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha, double beta)
    {
        OnDevice(nameof(Gemm), a, b, c);
        var (batch, m, n, k, strideA, strideB) = ReferenceKernels.GemmShapes(a, b, c, transA, transB);
        if (batch == 0 || m == 0 || n == 0) return;
        if (b.DType != c.DType)
        {
            // Weight-only bf16 with f32 activations: cuBLAS takes one type for A and B, so widen the weights (exact).
            using var wide = TensorScope.Detach(Tensor.Empty(b.Shape, c.DType, b.Device));
            Copy(b, wide);
            Gemm(a, wide, c, transA, transB, alpha, beta);
            return;
        }
        int dataType, computeType;
        switch (c.DType)
        {
            case DType.Float32: dataType = R32F; computeType = AllowTf32 ? Compute32FFastTf32 : Compute32F; break;
            case DType.BFloat16: dataType = R16BF; computeType = Compute32F; break;
            case DType.Float64: dataType = R64F; computeType = Compute64F; break;
            default: throw KernelChecks.Unsupported(nameof(Gemm), Name, c.DType);
        }
        // cuBLAS is column-major, and a row-major (R x C) buffer read column-major is its transpose (C x R).
        // So instead of C = op(A) op(B) we ask cuBLAS for C^T = op(B)^T op(A)^T, an (N x M) column-major
        // product whose buffer is exactly row-major C: swap the operands (B first), keep each one's transpose
        // flag (the row-major buffer already supplies the transpose), and use the row-major row lengths as
        // leading dimensions: B is N wide (K when transposed), A is K wide (M when transposed), C is N wide.
        int ldb = transB ? k : n;
        int lda = transA ? m : k;
        nint handle = CuBlasFor();
        float alpha32 = (float)alpha, beta32 = (float)beta;
        void* pAlpha = computeType == Compute64F ? &alpha : &alpha32;
        void* pBeta = computeType == Compute64F ? &beta : &beta32;
        _backend.Context.MakeCurrent();
        Check(cublasGemmStridedBatchedEx(handle, transB ? OpT : OpN, transA ? OpT : OpN, n, m, k,
            pAlpha, (void*)Ptr(b), dataType, ldb, strideB,
            (void*)Ptr(a), dataType, lda, strideA,
            pBeta, (void*)Ptr(c), dataType, n, (long)m * n,
            batch, computeType, GemmDefault));
    }

    private nint CuBlasFor()
    {
        lock (_lock)
        {
            if (_cublas is null)
            {
                _backend.Context.MakeCurrent();
                var h = new CuBlasHandle(_backend.Context.Handle);
                nint raw;
                Check(cublasCreate(&raw));
                h.Set(raw);
                Check(cublasSetStream(raw, _backend.Stream));
                // Default math: with an explicit compute type TF32 is used only for COMPUTE_32F_FAST_TF32.
                Check(cublasSetMathMode(raw, DefaultMath));
                _cublas = h;
            }
            return _cublas.DangerousGetHandle();
        }
    }
}
