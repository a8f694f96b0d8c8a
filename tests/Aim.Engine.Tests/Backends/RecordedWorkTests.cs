using Aim.Engine.Backends;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Backends;

/// <summary>The CPU side of <see cref="Backend.Record"/>: recording runs nothing, each replay runs the body once and frees its temporaries.</summary>
[Collection(SerialCollection.Name)]    // reads the process-wide CpuStorage.LiveBytes
public class RecordedWorkTests
{
    [Fact]
    public void CpuRecordingRunsTheBodyOnEveryReplayAndNotBefore()
    {
        using var x = Tensor.FromArray(new float[] { 1, 2, 3 }, [3]);
        int runs = 0;
        using var work = Backend.Record(Device.Cpu, () =>
        {
            runs++;
            Ops.CopyInto(Ops.AddScalar(Ops.Scale(x, 2.0), 1.0), x);
        });
        Assert.Equal(0, runs);
        Assert.Equal([1f, 2f, 3f], x.ToArray<float>());
        work.Replay();
        work.Replay();
        Assert.Equal(2, runs);
        Assert.Equal([7f, 11f, 15f], x.ToArray<float>());          // x → 2x + 1, twice
    }

    [Fact]
    public void CpuReplayFreesItsTemporaries()
    {
        using var x = new Rng(3).Normal([1024]);
        using var work = Backend.Record(Device.Cpu, () => Ops.CopyInto(Ops.Exp(Ops.Neg(Ops.Square(x))), x));
        work.Replay();
        long before = CpuStorage.LiveBytes;
        for (int i = 0; i < 5; i++) work.Replay();
        Assert.Equal(before, CpuStorage.LiveBytes);
    }

    [Fact]
    public void RngSkipMovesWholeBlocks()
    {
        var a = new Rng(9);
        a.NextUInt32();                                              // part of block 0 used: Skip drops the rest
        a.Skip(3);
        var b = new Rng(9, 4);
        Assert.Equal(b.NextUInt32(), a.NextUInt32());
        Assert.Equal(5UL, a.Position);
    }
}
