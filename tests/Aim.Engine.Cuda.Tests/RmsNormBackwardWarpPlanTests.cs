// The RMSNorm backward's choice between norm.cu's rms_norm_backward_wgrad (a block a row) and rms_norm_backward_warp{K}[_vec]
// (a warp a row) and the warp path's chunking: CudaKernels.BackwardWarpPath, BackwardWarpChunks, BackwardWarpRowsPerChunk
// (CudaKernels.Norm.cs; no GPU needed). tests/cuda-emulation/gated_norm_check.cpp mirrors the same rule.
using Aim.Engine.Cuda.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Tests;

public class RmsNormBackwardWarpPlanTests
{
    /// <summary>Float32 rows of one segment, at least 1024 of them, up to 1536 elements with 16-byte access, 1024 without.</summary>
    [Theory]
    [InlineData(1536, 1, 8192L, true, true)]    // AiM-B training: the gated norm (z's row stride 3352 is a float4 multiple)
    [InlineData(768, 1, 8192L, true, true)]     // AddRmsNorm
    [InlineData(1536, 1, 8192L, false, false)]  // misaligned: no scalar K = 12 kernel
    [InlineData(1024, 1, 8192L, false, true)]
    [InlineData(1537, 1, 8192L, true, false)]   // beyond the registers of a lane
    [InlineData(31, 2, 8192L, false, false)]    // groups keep the block kernel
    [InlineData(768, 1, 1023L, true, false)]    // few rows (the decode) keep it too
    [InlineData(1, 1, 1024L, false, true)]
    public void BackwardWarpPathFollowsTheRule(int seg, int segsPerRow, long rows, bool vectorised, bool warp)
    {
        Assert.Equal(warp, CudaKernels.BackwardWarpPath(DType.Float32, seg, segsPerRow, rows, vectorised));
        Assert.False(CudaKernels.BackwardWarpPath(DType.BFloat16, seg, segsPerRow, rows, vectorised));
    }

    /// <summary>The smallest instantiated K (2, 4, 6, 8, 12 float4 chunks a lane) with 128·K ≥ seg.</summary>
    [Theory]
    [InlineData(1, 2)]
    [InlineData(256, 2)]
    [InlineData(257, 4)]
    [InlineData(768, 6)]
    [InlineData(769, 8)]
    [InlineData(1024, 8)]
    [InlineData(1025, 12)]
    [InlineData(1536, 12)]
    public void ChunksCoverTheRow(int seg, int chunks) => Assert.Equal(chunks, CudaKernels.BackwardWarpChunks(seg));

    /// <summary>At least a row a warp (4), at most 128 · resident blocks chunks: AiM-B's 8192 rows give 32 rows (256 blocks) at
    /// K = 12 and 22 rows (373 blocks) at K = 6.</summary>
    [Theory]
    [InlineData(8192L, 12, 32L)]
    [InlineData(8192L, 6, 22L)]
    [InlineData(8192L, 2, 8L)]
    [InlineData(1024L, 12, 4L)]
    [InlineData(5L, 4, 4L)]
    public void RowsPerChunk(long rows, int k, long rowsPerChunk) => Assert.Equal(rowsPerChunk, CudaKernels.BackwardWarpRowsPerChunk(rows, k));
}
