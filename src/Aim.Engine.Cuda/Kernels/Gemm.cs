// Gemm on CUDA through cuBLAS (cublasGemmStridedBatchedEx) for row-major tensors (ANCHORS.md 8.7, "cuBLAS").
//
// TF32 policy: float32 GEMMs run in full float32 (CUBLAS_COMPUTE_32F, default math mode) unless
// CudaKernels.AllowTf32 is set, which switches to CUBLAS_COMPUTE_32F_FAST_TF32 (10-bit mantissa inputs,
// float32 accumulation, NMSE near 1e-7 instead of 1e-14). Off by default so that the harness's float32
// tolerances hold; llm.c enables it by default, tinygrad gates it behind ALLOW_TF32. bf16 inputs and outputs
// always accumulate in float32 (CUBLAS_COMPUTE_32F) on the tensor cores, and bf16 a and b may write an f32 c
// (autocast); float64 uses CUBLAS_COMPUTE_64F.
using Aim.Engine.Cuda.Interop;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Tensors;
using static Aim.Engine.Cuda.Interop.CuBlas;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    private const int CuBlasWorkspaceBytes = 32 << 20;
    private CuBlasHandle? _cublas;
    private ulong _cublasWorkspace;

    /// <summary>When true, float32 GEMMs may use TF32 tensor-core math (see the policy at the top of Gemm.cs). Default false.</summary>
    public bool AllowTf32 { get; set; }

    /// <inheritdoc />
    public void Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha, double beta)
    {
        OnDevice(nameof(Gemm), a, b, c);
        var (batch, m, n, k, strideA, strideB) = ReferenceKernels.GemmShapes(a, b, c, transA, transB);
        if (batch == 0 || m == 0 || n == 0) return;
        int dataType, computeType, outType;
        if (a.DType == DType.BFloat16 && b.DType == DType.BFloat16 && c.DType == DType.Float32)
        {
            // Autocast: bf16 operands on the tensor cores with f32 accumulation, written straight to an f32 result.
            GemmBlas(a, b, c, transA, transB, alpha, beta, R16BF, R32F, Compute32F, batch, m, n, k, strideA, strideB);
            return;
        }
        if (a.DType == DType.Float32 && b.DType == DType.BFloat16 && c.DType == DType.Float32)
        {
            if (batch == 1 && m <= SkinnyRowLimit && !transA && transB && TrySkinny(a, b, c, m, n, k, alpha, beta)) return;
            // bf16 weights with f32 activations. A few rows (a decode step) stream the weights through skinny_gemm.cu;
            // more rows round the activations to bf16 (cuBLAS takes one type for A and B) and run on the tensor cores
            // with f32 accumulation and an f32 result (widening the weights instead would read them three times).
            using var narrow = TensorScope.Detach(Tensor.Empty(a.Shape, DType.BFloat16, a.Device));
            Copy(a, narrow);
            GemmBlas(narrow, b, c, transA, transB, alpha, beta, R16BF, R32F, Compute32F, batch, m, n, k, strideA, strideB);
            return;
        }
        if (b.DType != c.DType || a.DType != c.DType) throw KernelChecks.Unsupported(nameof(Gemm), Name, b.DType);
        switch (c.DType)
        {
            case DType.Float32: dataType = R32F; computeType = AllowTf32 ? Compute32FFastTf32 : Compute32F; break;
            case DType.BFloat16: dataType = R16BF; computeType = Compute32F; break;
            case DType.Float64: dataType = R64F; computeType = Compute64F; break;
            default: throw KernelChecks.Unsupported(nameof(Gemm), Name, c.DType);
        }
        outType = dataType;
        GemmBlas(a, b, c, transA, transB, alpha, beta, dataType, outType, computeType, batch, m, n, k, strideA, strideB);
    }

    private void GemmBlas(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha, double beta,
        int dataType, int outType, int computeType, int batch, int m, int n, int k, long strideA, long strideB)
    {
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
            pBeta, (void*)Ptr(c), outType, n, (long)m * n,
            batch, computeType, GemmDefault));
    }

    // skinny_gemm.cu's SKINNY_MAX_M and SKINNY_WARPS.
    private const int SkinnyMaxRows = 16;

    /// <summary>
    /// The most rows a bf16-weight product streams through skinny_gemm.cu (and MambaDecodeLayer runs its four-kernel
    /// form at); more rows round the activations to bf16 for cuBLAS. H200, AiM-B's 24 layers with their own weights and
    /// states (Aim.Cuda.Check --decode-perf), µs a step at 2 / 4 / 8 / 16 rows: skinny 344 / 425 / 647 / 1017, cuBLAS
    /// 548 / 579 / 623 / 697; the head 8.2 / 11.5 / 17.9 / 30.9 against 7.4 / 7.0 / 6.8 / 7.0. Hence 4 (batch 2 with
    /// CFG). Set only to compare the two paths (--decode-perf); at most SKINNY_MAX_M.
    /// </summary>
    internal int SkinnyRowLimit
    {
        get => _skinnyRowLimit;
        set => _skinnyRowLimit = Math.Clamp(value, 0, SkinnyMaxRows);
    }

    private int _skinnyRowLimit = 4;
    private const int SkinnyWarps = 8;

    /// <summary>
    /// x (M, K) f32 · W (N, K)ᵀ bf16 for decode-sized M: a weight stream with f32 accumulation (skinny_gemm.cu).
    /// Needs unit stride along K in both operands and a contiguous output; returns false otherwise.
    /// </summary>
    private bool TrySkinny(Tensor a, Tensor b, Tensor c, int m, int n, int k, double alpha, double beta)
    {
        // Ops.MatMul passes (1, M, K) and (1, N, K) views: rows are the last two dimensions.
        if (a.Strides[^1] != 1 || b.Strides[^1] != 1 || !c.IsContiguous) return false;
        long sxm = a.Strides[^2], swn = b.Strides[^2];
        bool vec = k % 8 == 0 && sxm % 4 == 0 && swn % 8 == 0 && Ptr(a) % 16 == 0 && Ptr(b) % 16 == 0;
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[16]);
        args.Add(Ptr(a));
        args.Add(sxm);
        args.Add(Ptr(b));
        args.Add(swn);
        args.Add(Ptr(c));
        args.Add((long)n);
        args.Add(m);
        args.Add(n);
        args.Add(k);
        args.Add((float)alpha);
        args.Add((float)beta);
        args.Add(vec ? 1 : 0);
        int cols = SkinnyColumns(n);
        int groups = (n + cols - 1) / cols, split = SkinnySplit(groups, k);
        args.Add(split);
        Launch(Function("skinny_gemm.cu", cols == 1 ? "skinny_gemm_bf16" : "skinny_gemm_c4_bf16"), SkinnyGrid(groups, split), SkinnyWarps * 32, 0, args);
        return true;
    }

    /// <summary>
    /// Output columns a warp of skinny_gemv takes: four (x loaded once for all, four weight chunks in flight) where that
    /// still leaves at least four column groups a multiprocessor, else one. H200, µs a call at 2 / 8 / 16 rows (Aim.Cuda.Check
    /// --decode-perf): the head (16384 × 768) 11.8 / 33.2 / 62.0 at one column, 8.2 / 17.8 / 30.8 at four; in_proj (3352 ×
    /// 768) 3.53 / 9.03 / 16.4 at one, 3.38 / 6.65 / 11.2 at four (two columns were slower than one for in_proj).
    /// </summary>
    internal int SkinnyColumns(int n) => SkinnyColumnsOverride ?? (n >= 16 * _backend.Context.MultiprocessorCount ? 4 : 1);

    // Blocks of skinny_gemv for `groups` column groups at `split` warps each.
    private static uint SkinnyGrid(int groups, int split) => (uint)((groups + SkinnyWarps / split - 1) / (SkinnyWarps / split));

    /// <summary>Forces skinny_gemv's columns a warp (1 or 4) for comparisons (Aim.Cuda.Check --decode-perf); null: the rule.</summary>
    internal int? SkinnyColumnsOverride { get; set; }

    /// <summary>
    /// Warps per output column of skinny_gemv (skinny_gemm.cu): more warps per column while the grid still fits one wave
    /// of resident warps (32 per multiprocessor: the kernel's ~63 registers allow four 256-thread blocks) and every warp
    /// keeps at least two 32-lane passes over its part of K. Splitting past one wave leaves a second, mostly idle wave:
    /// AiM-B's in_proj at 2 rows (3352 columns, K = 768) took 5.8 µs at split 2 (838 blocks, 1.6 waves on the H200).
    /// </summary>
    private int SkinnySplit(int n, int k)
    {
        int split = 1, target = 32 * _backend.Context.MultiprocessorCount;
        while (split < SkinnyWarps && (long)n * split * 2 <= target && k / (8 * 32 * split * 2) >= 1) split *= 2;
        return split;
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
                // A workspace of our own, so cuBLAS never allocates inside a captured graph.
                _cublasWorkspace = _backend.Allocator.Allocate(CuBlasWorkspaceBytes);
                Check(cublasSetWorkspace(raw, (void*)_cublasWorkspace, CuBlasWorkspaceBytes));
                _cublas = h;
            }
            return _cublas.DangerousGetHandle();
        }
    }
}
