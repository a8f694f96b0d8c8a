using Aim.BackendOps;

namespace Aim.Engine.Tests.Kernels;

/// <summary>Every harness case: CPU SIMD kernels vs reference, and float64 finite-difference gradients.</summary>
public class BackendOpsTests
{
    public static TheoryData<string> Cases() => [.. OpCases.All.Select(c => c.ToString())];

    public static TheoryData<string> GradCases() => [.. OpCases.All.Where(c => c.HasGradient).Select(c => c.ToString())];

    [Theory]
    [MemberData(nameof(Cases))]
    public void CpuMatchesReference(string name)
    {
        var result = Harness.CompareCpu(OpCases.ByName(name));
        Assert.True(result.Passed, result.ToString());
    }

    [Theory]
    [MemberData(nameof(GradCases))]
    public void GradientMatchesFiniteDifferences(string name)
    {
        var result = Harness.GradCheck(OpCases.ByName(name));
        Assert.True(result.Passed, result.ToString());
    }
}
