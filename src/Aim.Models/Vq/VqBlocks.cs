using Aim.Engine.Nn;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Models.Vq;

/// <summary>
/// ResnetBlock (spec §8.4): norm1 → swish → conv1 → norm2 → swish → conv2, plus the skip (nin_shortcut 1×1 when
/// the channel count changes). x: (N, Cin, H, W) → (N, Cout, H, W).
/// </summary>
public sealed class ResnetBlock : Module
{
    private readonly GroupNorm _norm1, _norm2;
    private readonly Conv2d _conv1, _conv2;
    private readonly Conv2d? _ninShortcut;

    /// <summary>Zero parameters.</summary>
    public ResnetBlock(VqConfig c, int inChannels, int outChannels)
    {
        _norm1 = RegisterModule("norm1", new GroupNorm(c.NormGroups, inChannels, c.NormEps));
        _conv1 = RegisterModule("conv1", new Conv2d(inChannels, outChannels, 3, 1, 1));
        _norm2 = RegisterModule("norm2", new GroupNorm(c.NormGroups, outChannels, c.NormEps));
        _conv2 = RegisterModule("conv2", new Conv2d(outChannels, outChannels, 3, 1, 1));
        if (inChannels != outChannels) _ninShortcut = RegisterModule("nin_shortcut", new Conv2d(inChannels, outChannels, 1));
    }

    /// <summary>Forward.</summary>
    public Tensor Forward(Tensor x)
    {
        var h = _conv1.Forward(Ops.Silu(_norm1.Forward(x)));
        h = _conv2.Forward(Ops.Silu(_norm2.Forward(h)));
        return Ops.Add(_ninShortcut?.Forward(x) ?? x, h);
    }
}

/// <summary>
/// AttnBlock (spec §8.4): single-head self-attention over the H·W positions with 1×1 q, k, v and proj_out.
/// x: (N, C, H, W) → same.
/// </summary>
public sealed class AttnBlock : Module
{
    private readonly GroupNorm _norm;
    private readonly Conv2d _q, _k, _v, _projOut;

    /// <summary>Zero parameters.</summary>
    public AttnBlock(VqConfig c, int channels)
    {
        _norm = RegisterModule("norm", new GroupNorm(c.NormGroups, channels, c.NormEps));
        _q = RegisterModule("q", new Conv2d(channels, channels, 1));
        _k = RegisterModule("k", new Conv2d(channels, channels, 1));
        _v = RegisterModule("v", new Conv2d(channels, channels, 1));
        _projOut = RegisterModule("proj_out", new Conv2d(channels, channels, 1));
    }

    /// <summary>Forward.</summary>
    public Tensor Forward(Tensor x)
    {
        int n = x.Shape[0], c = x.Shape[1], hw = x.Shape[2] * x.Shape[3];
        var hn = _norm.Forward(x);
        var q = Ops.Reshape(_q.Forward(hn), n, c, hw);                           // (N, C, HW)
        var k = Ops.Reshape(_k.Forward(hn), n, c, hw);
        var v = Ops.Reshape(_v.Forward(hn), n, c, hw);
        var scores = Ops.Scale(Ops.MatMul(q, k, transA: true), 1.0 / Math.Sqrt(c)); // (N, HWq, HWk)
        var w = Ops.Softmax(scores);
        var o = Ops.MatMul(v, w, transB: true);                                  // (N, C, HWq) = v · wᵀ
        return Ops.Add(x, _projOut.Forward(Ops.Reshape(o, x.Shape)));
    }
}

/// <summary>Downsample: zero-pad right and bottom by one, then 3×3 stride-2 conv ("conv").</summary>
public sealed class Downsample : Module
{
    private readonly Conv2d _conv;

    /// <summary>Zero parameters.</summary>
    public Downsample(int channels) => _conv = RegisterModule("conv", new Conv2d(channels, channels, 3, 2, 0));

    /// <summary>(N, C, H, W) → (N, C, H/2, W/2).</summary>
    public Tensor Forward(Tensor x) => Ops.Conv2d(x, _conv.Weight, _conv.Bias, 2, 0, 1, 0, 1);
}

/// <summary>Upsample: nearest ×2 then 3×3 conv ("conv", pad 1).</summary>
public sealed class Upsample : Module
{
    private readonly Conv2d _conv;

    /// <summary>Zero parameters.</summary>
    public Upsample(int channels) => _conv = RegisterModule("conv", new Conv2d(channels, channels, 3, 1, 1));

    /// <summary>(N, C, H, W) → (N, C, 2H, 2W).</summary>
    public Tensor Forward(Tensor x) => _conv.Forward(Ops.UpsampleNearest2x(x));
}

/// <summary>A named list of modules (PyTorch nn.ModuleList: children "0", "1", ...).</summary>
public sealed class ModuleList<T> : Module where T : Module
{
    private readonly List<T> _items = [];

    /// <summary>Appends a module named by its index.</summary>
    public T Add(T item)
    {
        _items.Add(RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), item));
        return item;
    }

    /// <summary>The items.</summary>
    public IReadOnlyList<T> Items => _items;
}
