using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>
/// ModulatedAddRmsNorm beyond the harness: it equals the composition it replaces in AimBlock.Step
/// (AddRmsNorm(gate · hidden, residual) then n · scalePlusOne + shift), in place equals out of place, it is never
/// recorded on the tape, and bad calls throw naming the op.
/// </summary>
public class ModulatedNormTests
{
    private const double Eps = 1e-5;
    private static readonly ReferenceKernels s_reference = new();

    public static TheoryData<bool, bool, bool> Variants()
    {
        var data = new TheoryData<bool, bool, bool>();
        foreach (bool reference in new[] { false, true })
            foreach (bool gated in new[] { true, false })
                foreach (bool withResidual in new[] { true, false })
                    data.Add(reference, gated, withResidual);
        return data;
    }

    private static IDisposable Use(bool reference) => Backend.UseCpuKernels(reference ? s_reference : Backend.Cpu.Kernels);

    private static (Tensor Hidden, Tensor Gate, Tensor Residual, Tensor Weight, Tensor Scale, Tensor Shift) Inputs(int rows, int d, ulong seed)
    {
        var rng = new Rng(seed);
        return (rng.Normal([rows, d]), rng.Normal([rows, d]), rng.Normal([rows, d], 0, 3), rng.Uniform([d], 0.5, 1.5),
            rng.Uniform([rows, d], 0.5, 1.5), rng.Normal([rows, d]));
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void EqualsTheComposition(bool reference, bool gated, bool withResidual)
    {
        using var scope = TensorScope.Open();
        using var kernels = Use(reference);
        using var noGrad = Tape.NoGrad();
        foreach (var (rows, d) in new[] { (1, 768), (2, 257), (7, 31), (33, 1) })
        {
            var (h, g, res, w, s, t) = Inputs(rows, d, (ulong)(rows * 1000 + d));
            Tensor? residual = withResidual ? res : null;
            var (n, r) = Ops.AddRmsNorm(gated ? Ops.Mul(g, h) : h, residual, w, Eps);
            var expectedNormed = Ops.Add(Ops.Mul(n, s), t);
            var (normed, sum) = Ops.ModulatedAddRmsNorm(h, gated ? g : null, residual, w, Eps, s, t);
            string what = $"{(reference ? "reference" : "cpu")} R={rows} D={d} gate={gated} residual={withResidual}";
            Compare.Close($"{what} normed", expectedNormed, normed, 1e-6);
            Compare.Close($"{what} residual", r, sum, 1e-6);
            // Both backends round step by step as their composition does, so they agree to the bit.
            Assert.Equal(expectedNormed.ToFloatArray(), normed.ToFloatArray());
            Assert.Equal(r.ToFloatArray(), sum.ToFloatArray());
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void InPlaceEqualsOutOfPlace(bool reference)
    {
        using var scope = TensorScope.Open();
        using var kernels = Use(reference);
        var (h, g, res, w, s, t) = Inputs(33, 257, 7);
        var (normed, sum) = Ops.ModulatedAddRmsNorm(h, g, res, w, Eps, s, t);
        var stream = Ops.Clone(res);
        var (normedInPlace, same) = Ops.ModulatedAddRmsNorm(h, g, stream, w, Eps, s, t, residualOut: stream);
        Assert.Same(stream, same);
        Assert.Equal(sum.ToFloatArray(), stream.ToFloatArray());
        Assert.Equal(normed.ToFloatArray(), normedInPlace.ToFloatArray());
    }

    [Fact]
    public void IsNeverRecorded()
    {
        using var scope = TensorScope.Open();
        var (h, g, res, w, s, t) = Inputs(2, 31, 8);
        w.RequiresGrad = true;
        h.RequiresGrad = true;
        var (normed, sum) = Ops.ModulatedAddRmsNorm(h, g, res, w, Eps, s, t);
        Assert.False(normed.RequiresGrad);
        Assert.False(sum.RequiresGrad);
    }

    [Fact]
    public void BadCallsThrowNamingTheOp()
    {
        using var scope = TensorScope.Open();
        var (h, g, res, w, s, t) = Inputs(3, 31, 9);
        var k = Backend.Cpu.Kernels;
        var normed = Tensor.Empty([3, 31]);
        var sum = Tensor.Empty([3, 31]);
        void Throws<TException>(Action call, string part) where TException : Exception
        {
            var e = Assert.Throws<TException>(call);
            Assert.Contains("ModulatedAddRmsNorm", e.Message);
            Assert.Contains(part, e.Message);
        }
        Throws<ArgumentException>(() => Ops.ModulatedAddRmsNorm(h, g, res, Tensor.Full([30], 1), Eps, s, t), "weight");
        Throws<ArgumentException>(() => Ops.ModulatedAddRmsNorm(h, Tensor.Full([3, 30], 1), res, w, Eps, s, t), "gate");
        Throws<ArgumentException>(() => Ops.ModulatedAddRmsNorm(h, g, res, w, Eps, Tensor.Full([31], 1), t), "scalePlusOne");
        Throws<ArgumentException>(() => Ops.ModulatedAddRmsNorm(h, g, res, w, Eps, s, t, residualOut: Tensor.Empty([3, 32])), "residualOut");
        Throws<ArgumentException>(() => Ops.ModulatedAddRmsNorm(h, g, res, w, Eps, s, t, residualOut: h), "residualOut overlaps hidden");
        Throws<ArgumentException>(() => Ops.ModulatedAddRmsNorm(h, g, res, w, Eps, s, t, residualOut: Ops.Transpose(Tensor.Empty([31, 3]), 0, 1)), "contiguous");
        // A residualOut that shares residual's storage at another offset is not the in-place case.
        var wide = Tensor.Zeros([4, 31]);
        Throws<ArgumentException>(() => Ops.ModulatedAddRmsNorm(h, g, Ops.Narrow(wide, 0, 0, 3), w, Eps, s, t, residualOut: Ops.Narrow(wide, 0, 1, 3)),
            "residualOut overlaps residual");
        Throws<ArgumentException>(() => k.ModulatedAddRmsNorm(h, g, res, w, Eps, s, t, sum, sum), "normed overlaps residualOut");
        Throws<ArgumentException>(() => k.ModulatedAddRmsNorm(h, g, res, w, Eps, s, t, s, sum), "normed overlaps scalePlusOne");
        Throws<ArgumentException>(() => s_reference.ModulatedAddRmsNorm(h, g, res, w, Eps, s, t, normed, g), "residualOut overlaps gate");
        using var hb = Ops.Cast(h, DType.BFloat16);
        using var gb = Ops.Cast(g, DType.BFloat16);
        using var rb = Ops.Cast(res, DType.BFloat16);
        using var wb = Ops.Cast(w, DType.BFloat16);
        using var sb = Ops.Cast(s, DType.BFloat16);
        using var tb = Ops.Cast(t, DType.BFloat16);
        Throws<NotSupportedException>(() => Ops.ModulatedAddRmsNorm(hb, gb, rb, wb, Eps, sb, tb), "bf16");
    }

    [Fact]
    public void HarnessHasTheRequiredCases()
    {
        var cases = OpCases.All.Where(c => c.Op == "ModulatedAddRmsNorm").ToList();
        Assert.True(cases.Count >= 4 * 4 * 2 * 3);
        Assert.All(cases, c => Assert.False(c.HasGradient));
        Assert.Contains(cases, c => c.Params == "R=33,D=768,gate,in-place");
        Assert.Contains(cases, c => c.Params == "R=1,D=1,no-gate,no-residual");
    }
}
