using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Tensors;

public class TensorTests
{
    [Fact]
    public void ViewsShareStorageAndFreeOnLastDispose()
    {
        var t = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var storage = t.StorageOrThrow;
        var v = Ops.Transpose(t, 0, 1);
        t.Dispose();
        Assert.False(storage.IsReleased);
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, v.ToArray<float>());
        v.Dispose();
        Assert.True(storage.IsReleased);
    }

    [Fact]
    public void ScopeDisposesTemporariesButKeepsWhatIsKept()
    {
        Tensor kept, a, b;
        using (var scope = TensorScope.Open())
        {
            a = Tensor.FromArray(new float[] { 1, 2, 3 });
            b = Ops.Exp(Ops.Add(a, a));
            kept = scope.Keep(Ops.Sum(b));
        }
        Assert.True(a.IsDisposed);
        Assert.True(b.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.Equal(Math.Exp(2) + Math.Exp(4) + Math.Exp(6), kept.Item(), 3);
        kept.Dispose();
    }

    [Fact]
    public void BadShapesNameTheOpAndShapes()
    {
        using var a = Tensor.Zeros([2, 3]);
        using var b = Tensor.Zeros([4]);
        var e = Assert.Throws<ArgumentException>(() => Ops.Add(a, b));
        Assert.Contains("Add", e.Message);
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4]", e.Message);
        var m = Assert.Throws<ArgumentException>(() => Ops.MatMul(a, a));
        Assert.Contains("MatMul", m.Message);
    }

    [Fact]
    public void ReshapeInfersAndRejects()
    {
        using var a = Tensor.Zeros([2, 3, 4]);
        using var r = Ops.Reshape(a, 6, -1);
        Assert.Equal([6, 4], r.Shape.ToArray());
        Assert.Throws<ArgumentException>(() => Ops.Reshape(a, 5, -1));
    }

    [Fact]
    public void BFloat16RoundsToNearestEven()
    {
        Assert.Equal(1.0f, BFloat16.FromSingle(1.00390625f).ToSingle()); // halfway, rounds to even (down)
        Assert.Equal(1.015625f, BFloat16.FromSingle(1.01171875f).ToSingle()); // halfway, rounds to even (up)
        Assert.True(float.IsNaN(BFloat16.FromSingle(float.NaN).ToSingle()));
    }

    [Fact]
    public void DisposedTensorSaysSo()
    {
        var t = Tensor.Zeros([3]);
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => t.ToArray<float>());
    }
}
