// The RMSNorm backward's choice between norm.cu's rms_norm_backward_wgrad (a block a row) and rms_norm_backward_rows{K}[_vec]
// (a team of warps a row) and the team path's launch: CudaKernels.BackwardRowsPath, BackwardRowsPlanFor (CudaKernels.Norm.cs;
// no GPU needed). tests/cuda-emulation/gated_norm_check.cpp mirrors the same rule.
using Aim.Engine.Cuda.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Tests;

public class RmsNormBackwardRowsPlanTests
{
    /// <summary>Float32 rows of one segment, at least 1024 of them, up to 1536 elements (16-byte access or not).</summary>
    [Theory]
    [InlineData(1536, 1, 8192L, true)]    // AiM-B training: the gated norm
    [InlineData(768, 1, 8192L, true)]     // AddRmsNorm
    [InlineData(1537, 1, 8192L, false)]
    [InlineData(31, 2, 8192L, false)]     // groups keep the block kernel
    [InlineData(768, 1, 1023L, false)]    // few rows (the decode) keep it too
    [InlineData(1, 1, 1024L, true)]
    public void BackwardRowsPathFollowsTheRule(int seg, int segsPerRow, long rows, bool team)
    {
        Assert.Equal(team, CudaKernels.BackwardRowsPath(DType.Float32, seg, segsPerRow, rows));
        Assert.False(CudaKernels.BackwardRowsPath(DType.BFloat16, seg, segsPerRow, rows));
    }

    /// <summary>⌈seg / 256⌉ warps a row, K = ⌈seg / (128 · warps)⌉, teams filling 256 threads, at most 128 · resident
    /// chunks (resident = 65536 / (threads · 64)) of at least a row a team. AiM-B: the gated norm 6 warps a row, blocks of
    /// 192 (5 an SM), 13 rows a block (631 blocks); AddRmsNorm 3 warps a row, 2 teams, 13 rows a block.</summary>
    [Theory]
    [InlineData(1536, 8192L, 6, 2, 192, 13L)]
    [InlineData(768, 8192L, 3, 2, 192, 13L)]
    [InlineData(1024, 8192L, 4, 2, 256, 16L)]
    [InlineData(1000, 1030L, 4, 2, 256, 3L)]
    [InlineData(257, 1030L, 2, 2, 256, 4L)]
    [InlineData(256, 8192L, 1, 2, 256, 16L)]
    [InlineData(128, 5000L, 1, 1, 256, 10L)]
    [InlineData(1, 1024L, 1, 1, 256, 8L)]
    [InlineData(1280, 1024L, 5, 2, 160, 2L)]
    public void Plan(int seg, long rows, int warps, int k, int threads, long rowsPerChunk)
        => Assert.Equal(new CudaKernels.BackwardRowsPlan(warps, k, threads, rowsPerChunk), CudaKernels.BackwardRowsPlanFor(seg, rows));
}
