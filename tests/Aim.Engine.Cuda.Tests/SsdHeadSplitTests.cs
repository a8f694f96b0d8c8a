// The head-split rule of the chunked SSD backward's dB / dC kernels (CudaKernels.SsdHeadSplits; no GPU needed).
using Aim.Engine.Cuda.Kernels;

namespace Aim.Engine.Cuda.Tests;

public class SsdHeadSplitTests
{
    /// <summary>
    /// At most 6 heads a block, more splits (up to one head each) while the grid is under 396 blocks, one split when a
    /// group has one head. Tile blocks = B·G·nc·row tiles·n-tiles.
    /// </summary>
    [Theory]
    [InlineData(256, 24, 4)]     // AiM-B training: batch 32, L 256, chunk 64, N 128 -> 32·4·2 tile blocks, 24 heads a group
    [InlineData(64, 24, 7)]      // batch 8: 4 splits give 256 blocks, 7 the first count over 396
    [InlineData(8, 24, 24)]      // batch 1: one head a block
    [InlineData(1000, 7, 2)]     // a full grid: only the 6-head bound
    [InlineData(1000, 6, 1)]
    [InlineData(1, 1, 1)]        // one head a group: nothing to sum
    [InlineData(5000, 1, 1)]
    public void SplitsFollowTheRule(long tileBlocks, int headsPerGroup, int splits)
        => Assert.Equal(splits, CudaKernels.SsdHeadSplits(tileBlocks, headsPerGroup));
}
