// The modulate backward's launch (CudaKernels.Modulate.cs): ModulatePlan, and the choice between modulate.cu's
// modulate_backward_f32 (a channel a lane) and modulate_backward4_f32 (four channels a lane, same plan) with its block
// size (no GPU needed).
using Aim.Engine.Cuda.Kernels;

namespace Aim.Engine.Cuda.Tests;

public class ModulatePlanTests
{
    /// <summary>AiM-B training (B = 32, L = 256, D = 768) on 132 multiprocessors: 32-channel tiles, 8 rows, one split;
    /// the four-channel kernel runs the same plan with 8 lanes × 8 rows.</summary>
    [Fact]
    public void AimBTrainingPlan()
    {
        var plan = CudaKernels.ModulatePlan(32, 256, 768, 132);
        Assert.Equal(new CudaKernels.ModulateLaunch(32, 8, 24, 1, 256), plan);
        Assert.Equal(256, CudaKernels.ModulateBackwardThreads(plan, false));
        Assert.Equal(64, CudaKernels.ModulateBackwardThreads(plan, true));
    }

    /// <summary>Few (image, channel tile) blocks split the positions; the four-channel kernel keeps the split.</summary>
    [Fact]
    public void SmallBatchSplits()
    {
        var plan = CudaKernels.ModulatePlan(2, 3000, 40, 132);
        Assert.Equal(32, plan.Cols);
        Assert.Equal(8, plan.Rows);
        Assert.True(plan.Splits > 1);
        Assert.Equal(64, CudaKernels.ModulateBackwardThreads(plan, true));
    }

    /// <summary>Four channels a lane only for D % 4 == 0 and every present pointer (0 = absent) 16-byte aligned.</summary>
    [Theory]
    [InlineData(768, 0x1000UL, 0x2000UL, 0x3000UL, 0UL, true)]
    [InlineData(4, 0x1000UL, 0x2010UL, 0x3020UL, 0x4030UL, true)]
    [InlineData(770, 0x1000UL, 0x2000UL, 0x3000UL, 0UL, false)]
    [InlineData(7, 0x1000UL, 0x2000UL, 0x3000UL, 0UL, false)]
    [InlineData(768, 0x1004UL, 0x2000UL, 0x3000UL, 0UL, false)]
    [InlineData(768, 0x1000UL, 0x2000UL, 0x3000UL, 0x4008UL, false)]
    public void VectorisedNeedsAlignedFloat4Rows(int d, ulong x, ulong scale, ulong dOut, ulong dX, bool vectorised) =>
        Assert.Equal(vectorised, CudaKernels.ModulateFourChannels(d, x, scale, dOut, dX));
}
