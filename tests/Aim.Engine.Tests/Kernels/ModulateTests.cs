using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>
/// Modulate and Gate beyond the harness: they equal the composition they replace in AimBlock.Forward
/// (Add(Mul(n, unsqueeze(1 + scale)), unsqueeze(shift)) and Mul(unsqueeze(gate), y)) to the bit in the forward and
/// to float32 summation order in the gradients, and bad calls throw naming the op.
/// </summary>
public class ModulateTests
{
    private static readonly ReferenceKernels s_reference = new();

    private static IDisposable Use(bool reference) => Backend.UseCpuKernels(reference ? s_reference : Backend.Cpu.Kernels);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EqualsTheComposition(bool reference)
    {
        using var kernels = Use(reference);
        foreach (var (b, l, d) in new[] { (3, 5, 31), (2, 64, 768), (1, 1, 1), (4, 33, 257) })
        {
            using var scope = TensorScope.Open();
            var rng = new Rng((ulong)(b * 100000 + l * 1000 + d));
            Tensor x = rng.Normal([b, l, d]), s = rng.Uniform([b, d], 0.5, 1.5), h = rng.Normal([b, d]), gate = rng.Normal([b, d]);
            Tensor up = rng.Normal([b, l, d]);
            string what = $"{(reference ? "reference" : "cpu")} B={b} L={l} D={d}";
            var expected = Run(x, s, h, gate, up, fused: false);
            var actual = Run(x, s, h, gate, up, fused: true);
            Assert.Equal(expected[0].ToFloatArray(), actual[0].ToFloatArray());
            string[] names = ["out", "dx", "dscale", "dshift", "dgate"];
            for (int i = 1; i < expected.Length; i++) Compare.Close($"{what} {names[i]}", expected[i], actual[i], 1e-5);
        }
    }

    // out = gate · (x · s + h) with the gradients of Σ out · up: [out, dx, ds, dh, dgate].
    private static Tensor[] Run(Tensor x, Tensor s, Tensor h, Tensor gate, Tensor up, bool fused)
    {
        Tensor xg = Ops.Clone(x), sg = Ops.Clone(s), hg = Ops.Clone(h), gg = Ops.Clone(gate);
        foreach (var t in new[] { xg, sg, hg, gg }) t.RequiresGrad = true;
        Tensor y = fused
            ? Ops.Gate(gg, Ops.Modulate(xg, sg, hg))
            : Ops.Mul(Ops.Unsqueeze(gg, 1), Ops.Add(Ops.Mul(xg, Ops.Unsqueeze(sg, 1)), Ops.Unsqueeze(hg, 1)));
        Tape.Backward(Ops.Sum(Ops.Mul(y, up)));
        return [y, xg.Grad!, sg.Grad!, hg.Grad!, gg.Grad!];
    }

    [Fact]
    public void BadCallsThrowNamingTheOp()
    {
        using var scope = TensorScope.Open();
        var x = Tensor.Zeros([2, 3, 5]);
        var rows = Tensor.Zeros([2, 5]);
        var e = Assert.Throws<ArgumentException>(() => Ops.Modulate(x, Tensor.Zeros([2, 4]), rows));
        Assert.Contains("Modulate", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.Gate(Tensor.Zeros([1, 5]), x));
        Assert.Contains("Gate", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.Modulate(Tensor.Zeros([6, 5]), rows, rows));
        Assert.Contains("(B, L, D)", e.Message);
        e = Assert.Throws<ArgumentException>(() => s_reference.Modulate(x, rows, rows, Tensor.Empty([2, 3, 4])));
        Assert.Contains("Modulate: output", e.Message);
        e = Assert.Throws<ArgumentException>(() => Backend.Cpu.Kernels.ModulateBackward(x, rows, x, null, Tensor.Empty([5]), null));
        Assert.Contains("ModulateBackward: dScale", e.Message);
    }
}
