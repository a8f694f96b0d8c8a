// Every backend-ops harness case on CUDA vs the reference (skipped without a GPU), plus the CUDA-only checks.
using Aim.BackendOps;

namespace Aim.Engine.Cuda.Tests;

public class CudaBackendOpsTests
{
    public static TheoryData<string> Cases() => [.. OpCases.All.Select(c => c.ToString())];

    public static TheoryData<int> ExtraIndices() => [.. Enumerable.Range(0, CudaHarness.ExtraChecks().Count())];

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void CudaMatchesReference(string name)
    {
        var r = CudaHarness.Run(OpCases.ByName(name));
        Assert.True(r.Ok, $"{r.Name}: {r.Status} {r.Detail}");
    }

    [CudaTheory]
    [MemberData(nameof(ExtraIndices))]
    public void CudaSpecificChecks(int index)
    {
        var r = CudaHarness.ExtraChecks().ElementAt(index)();
        Assert.True(r.Ok, $"{r.Name}: {r.Status} {r.Detail}");
    }

    [Fact]
    public void CoreCasesAreRecognised()
    {
        Assert.Contains(OpCases.All, CudaHarness.IsCore);
        Assert.True(OpCases.All.Where(CudaHarness.IsCore).Count() >= 50);
    }
}
