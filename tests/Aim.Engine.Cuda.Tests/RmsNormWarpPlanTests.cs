// The RMSNorm forward's choice between norm.cu's rms_norm (a block a segment) and rms_norm_warp{K}[_vec] (a warp a
// segment): CudaKernels.WarpPath, WarpChunks and WarpVectorised (CudaKernels.Norm.cs; no GPU needed).
using Aim.Engine.Cuda.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Tests;

public class RmsNormWarpPlanTests
{
    /// <summary>Float32 segments of at most 2048 elements, at least 1024 of them, not residual and gate together.</summary>
    [Theory]
    [InlineData(1536, 8192L, false, true)]   // AiM-B training: the gated norm
    [InlineData(768, 8192L, false, true)]    // AddRmsNorm
    [InlineData(2048, 1024L, false, true)]
    [InlineData(2049, 8192L, false, false)]  // longer than a warp's registers
    [InlineData(1536, 128L, false, false)]   // the decode: 2-128 rows keep the block kernel
    [InlineData(1536, 1023L, false, false)]
    [InlineData(768, 8192L, true, false)]
    public void WarpPathFollowsTheRule(int seg, long segments, bool residualAndGate, bool warp)
    {
        Assert.Equal(warp, CudaKernels.WarpPath(DType.Float32, seg, segments, residualAndGate));
        Assert.False(CudaKernels.WarpPath(DType.BFloat16, seg, segments, residualAndGate));
    }

    /// <summary>The smallest instantiated K (2, 4, 6, 8, 12, 16 float4 chunks a lane) with 128·K ≥ seg.</summary>
    [Theory]
    [InlineData(1, 2)]
    [InlineData(256, 2)]
    [InlineData(257, 4)]
    [InlineData(384, 4)]
    [InlineData(768, 6)]
    [InlineData(769, 8)]
    [InlineData(1024, 8)]
    [InlineData(1536, 12)]
    [InlineData(1537, 16)]
    [InlineData(2048, 16)]
    public void ChunksCoverTheSegment(int seg, int chunks) => Assert.Equal(chunks, CudaKernels.WarpChunks(seg));

    /// <summary>16-byte loads only for whole float4 groups, float4 row strides and 16-byte aligned pointers (0 = absent).</summary>
    [Fact]
    public void VectorisedNeedsAlignment()
    {
        Assert.True(CudaKernels.WarpVectorised(1536, 1536, 3352, 0x1000, 0, 0x2000, 0x3000, 0x4000, 0));
        Assert.False(CudaKernels.WarpVectorised(1535, 1535, 1535, 0x1000, 0, 0x2000, 0x3000, 0x4000, 0));
        Assert.False(CudaKernels.WarpVectorised(1536, 1539, 1536, 0x1000, 0, 0x2000, 0x3000, 0x4000, 0));
        Assert.False(CudaKernels.WarpVectorised(1536, 1536, 3353, 0x1000, 0, 0x2000, 0x3000, 0x4000, 0));
        Assert.False(CudaKernels.WarpVectorised(1536, 1536, 1536, 0x1004, 0, 0x2000, 0x3000, 0x4000, 0));
    }
}
