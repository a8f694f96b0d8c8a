using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Backends.Cpu;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>
/// The SSD scan's saved chunk states (IKernels.SsdScan's chunkStates, SsdScanBackward's input): the states are the
/// recurrence's state entering each chunk, checked against float64 scans of the sequence's prefixes; and Ops.SsdScan,
/// recorded on a backend whose backward reads saved states, runs its forward at that chunk length, hands the states
/// to the backward and gets the same gradients as without them.
/// </summary>
public class SsdChunkStatesTests
{
    private static readonly ReferenceKernels s_reference = new();

    public static TheoryData<bool, int, bool> Cases() => new()
    {
        { false, 4, true }, { true, 4, true }, { false, 5, false }, { true, 5, false }, { false, 64, true }, { true, 1, false },
    };

    /// <summary>Reference kernels whose backward claims to read saved states at chunk 4 and records what it was given.</summary>
    private sealed class SavingKernels : ReferenceKernels
    {
        public override int SsdScanStatesChunk => 4;

        public int ForwardChunk { get; private set; }

        public bool ForwardWroteStates { get; private set; }

        public int BackwardStatesChunk { get; private set; } = -1;

        public override void SsdScan(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState, int chunkSize, Tensor y, Tensor finalState, Tensor? chunkStates)
        {
            ForwardChunk = chunkSize;
            ForwardWroteStates = chunkStates is not null;
            base.SsdScan(x, dt, a, b, c, d, initialState, chunkSize, y, finalState, chunkStates);
        }

        public override void SsdScanBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
            Tensor dY, Tensor? dFinalState, Tensor? chunkStates, int statesChunk, Tensor dX, Tensor dDt, Tensor dA, Tensor dB, Tensor dC, Tensor? dD, Tensor? dInitialState)
        {
            BackwardStatesChunk = chunkStates is null ? 0 : statesChunk;
            base.SsdScanBackward(x, dt, a, b, c, d, initialState, dY, dFinalState, chunkStates, statesChunk, dX, dDt, dA, dB, dC, dD, dInitialState);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ChunkStatesArePrefixScanFinalStates(bool reference, int chunk, bool withInit)
    {
        using var scope = TensorScope.Open();
        using var noGrad = Tape.NoGrad();
        var rng = new Rng(21);
        int bsz = 2, l = 13, h = 4, g = 2, p = 7, n = 16;
        var x = rng.Normal([bsz, l, h, p]);
        var dt = OpCases.RandDt(rng, bsz, l, h);
        var a = OpCases.RandA(rng, h);
        var b = rng.Normal([bsz, l, g, n]);
        var c = rng.Normal([bsz, l, g, n]);
        var d = rng.Normal([h]);
        Tensor? init = withInit ? rng.Normal([bsz, h, p, n], 0, 0.5) : null;
        int nc = (l + chunk - 1) / chunk;
        ReferenceKernels k = reference ? s_reference : new CpuKernels();
        var y = Tensor.Empty([bsz, l, h, p], DType.Float32, Device.Cpu);
        var final = Tensor.Empty([bsz, h, p, n], DType.Float32, Device.Cpu);
        var states = Tensor.Empty([bsz, h, nc, p, n], DType.Float32, Device.Cpu);
        k.SsdScan(x, dt, a, b, c, d, init, chunk, y, final, states);
        var expectedFinal = Tensor.Empty([bsz, h, p, n], DType.Float32, Device.Cpu);
        k.SsdScan(x, dt, a, b, c, d, init, chunk, Tensor.Empty([bsz, l, h, p], DType.Float32, Device.Cpu), expectedFinal, null);
        SsmTests.AssertClose(expectedFinal, final, 0, "final state (same with and without chunkStates)");
        Tensor F64(Tensor t) => Ops.Cast(t, DType.Float64);
        for (int ci = 0; ci < nc; ci++)
        {
            int t0 = ci * chunk;
            Tensor expected;
            if (t0 == 0) expected = init is null ? Tensor.Zeros([bsz, h, p, n], DType.Float64, Device.Cpu) : F64(init);
            else
            {
                Tensor Prefix(Tensor t) => F64(Ops.Narrow(t, 1, 0, t0));
                expected = Tensor.Empty([bsz, h, p, n], DType.Float64, Device.Cpu);
                s_reference.SsdScan(Prefix(x), Prefix(dt), F64(a), Prefix(b), Prefix(c), F64(d), init is null ? null : F64(init), 3,
                    Tensor.Empty([bsz, t0, h, p], DType.Float64, Device.Cpu), expected, null);
            }
            SsmTests.AssertClose(expected, Ops.Select(states, 2, ci), 1e-5, $"S_in[{ci}]");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RecordedScanHandsItsStatesToTheBackward(bool withInit)
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(22);
        int bsz = 2, l = 11, h = 2, g = 1, p = 5, n = 6;
        Tensor[] leaves =
        [
            rng.Normal([bsz, l, h, p]), OpCases.RandDt(rng, bsz, l, h), OpCases.RandA(rng, h),
            rng.Normal([bsz, l, g, n]), rng.Normal([bsz, l, g, n]), rng.Normal([h]), rng.Normal([bsz, h, p, n], 0, 0.5),
        ];
        var dy = rng.Normal([bsz, l, h, p]);
        var df = rng.Normal([bsz, h, p, n]);
        Tensor?[] Grads(ReferenceKernels kernels)
        {
            using var use = Backend.UseCpuKernels(kernels);
            foreach (var t in leaves)
            {
                t.ZeroGrad();
                t.RequiresGrad = true;
            }
            var (y, final) = Ops.SsdScan(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], 7, withInit ? leaves[6] : null);
            var loss = Ops.Add(Ops.Sum(Ops.Mul(y, dy)), Ops.Sum(Ops.Mul(final, df)));
            Tape.Backward(loss);
            return [.. leaves.Select(t => t.Grad is null ? null : Ops.Clone(t.Grad))];
        }
        var saving = new SavingKernels();
        var expected = Grads(s_reference);
        var actual = Grads(saving);
        Assert.Equal(4, saving.ForwardChunk);
        Assert.True(saving.ForwardWroteStates);
        Assert.Equal(4, saving.BackwardStatesChunk);
        for (int i = 0; i < leaves.Length; i++)
        {
            if (expected[i] is null)
            {
                Assert.Null(actual[i]);
                continue;
            }
            SsmTests.AssertClose(expected[i]!, actual[i]!, 1e-5, $"grad {i}");
        }
        // Not recorded: the model's chunk size and no states.
        using (Backend.UseCpuKernels(saving))
        using (Tape.NoGrad())
            Ops.SsdScan(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], 7, null);
        Assert.Equal(7, saving.ForwardChunk);
        Assert.False(saving.ForwardWroteStates);
    }
}
