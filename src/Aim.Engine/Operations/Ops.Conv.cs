using Aim.Engine.Autograd;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Operations;

// provides: Conv2d (asymmetric zero padding), UpsampleNearest2x, L2Normalize (all differentiable) and NearestCode
// (no gradient): the image ops of the VQ tokenizer (spec §8.4, §8.5). Gradient formulas are in IKernels.Conv.cs.
public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (PyTorch Conv2d: cross-correlation, dilation 1, groups 1) with zero padding given per side.
    /// LlamaGen's Downsample is <c>Conv2d(x, w, b, 2, 0, 1, 0, 1)</c> (pad bottom and right by one, 3×3 stride 2);
    /// a "same" 3×3 conv is <c>Conv2d(x, w, b, 1, 1, 1, 1, 1)</c>.
    /// Output size Ho = (H + padTop + padBottom − kh) / stride + 1 (floor), Wo likewise.
    /// </summary>
    /// <param name="x">(N, Cin, H, W); any layout.</param>
    /// <param name="weight">(Cout, Cin, kh, kw).</param>
    /// <param name="bias">(Cout), or null.</param>
    /// <param name="stride">Step in both directions, ≥ 1.</param>
    /// <param name="padTop">Zero rows above.</param>
    /// <param name="padBottom">Zero rows below.</param>
    /// <param name="padLeft">Zero columns on the left.</param>
    /// <param name="padRight">Zero columns on the right.</param>
    /// <returns>(N, Cout, Ho, Wo).</returns>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, int padTop, int padBottom, int padLeft, int padRight)
    {
        const string op = nameof(Conv2d);
        var geo = Conv2dGeometry.Create(op, x.Shape, weight.Shape, stride, padTop, padBottom, padLeft, padRight);
        Tensor[] inputs = bias is null ? [x, weight] : [x, weight, bias];
        SameDevice(op, inputs);
        foreach (var t in inputs)
            if (t.DType != x.DType) throw new ArgumentException($"{op}: dtypes {x.DType.ShortName()} and {t.DType.ShortName()} differ");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != geo.Cout))
            throw new ArgumentException($"{op}: bias {Tensor.ShapeString(bias.Shape)} does not match weight {Tensor.ShapeString(weight.Shape)} (Cout, Cin, kh, kw)");
        var y = Tensor.Empty([geo.N, geo.Cout, geo.Ho, geo.Wo], x.DType, x.Device);
        using (var xc = ContiguousNoGrad(x))
        using (var wc = ContiguousNoGrad(weight))
        using (var bc = bias is null ? null : ContiguousNoGrad(bias))
            K(x).Conv2d(xc, wc, bc, stride, padTop, padBottom, padLeft, padRight, y);
        if (Tape.ShouldRecord(inputs))
        {
            Tape.Record(op, y, inputs, g =>
            {
                var grads = new Tensor?[inputs.Length];
                using var gc = Contiguous(g);
                if (x.RequiresGrad)
                {
                    using var wc = Contiguous(weight);
                    var dx = Tensor.Empty(x.Shape, x.DType, x.Device);
                    K(x).Conv2dBackwardInput(gc, wc, stride, padTop, padBottom, padLeft, padRight, dx);
                    grads[0] = dx;
                }
                if (weight.RequiresGrad)
                {
                    using var xc = Contiguous(x);
                    var dw = Tensor.Empty(weight.Shape, weight.DType, weight.Device);
                    K(x).Conv2dBackwardWeight(xc, gc, stride, padTop, padBottom, padLeft, padRight, dw);
                    grads[1] = dw;
                }
                if (bias is not null && bias.RequiresGrad)
                {
                    using var summed = SumToShape(gc, [1, geo.Cout, 1, 1]);
                    grads[2] = Reshape(summed, geo.Cout);
                }
                return grads;
            });
        }
        return y;
    }

    /// <summary>Nearest-neighbour ×2 upsampling (F.interpolate(scale_factor=2, mode="nearest")). x: (N, C, H, W) → (N, C, 2H, 2W).</summary>
    public static Tensor UpsampleNearest2x(Tensor x)
    {
        if (x.Rank != 4)
            throw new ArgumentException($"{nameof(UpsampleNearest2x)}: input must be (N, C, H, W), got shape {Tensor.ShapeString(x.Shape)}");
        var y = Tensor.Empty([x.Shape[0], x.Shape[1], 2 * x.Shape[2], 2 * x.Shape[3]], x.DType, x.Device);
        using (var xc = ContiguousNoGrad(x))
            K(x).UpsampleNearest2x(xc, y);
        if (Tape.ShouldRecord(x))
        {
            Tape.Record(nameof(UpsampleNearest2x), y, [x], g =>
            {
                using var gc = Contiguous(g);
                var dx = Tensor.Empty(x.Shape, x.DType, x.Device);
                K(x).UpsampleNearest2xBackward(gc, dx);
                return [dx];
            });
        }
        return y;
    }

    /// <summary>
    /// L2 normalisation over the last dimension with F.normalize semantics: x / max(‖x‖₂, eps).
    /// x: (..., D) → (..., D).
    /// </summary>
    public static Tensor L2Normalize(Tensor x, double eps = 1e-12)
    {
        if (x.Rank < 1 || x.Shape[^1] == 0)
            throw new ArgumentException($"{nameof(L2Normalize)}: x must have a non-empty last dimension, got shape {Tensor.ShapeString(x.Shape)}");
        if (!(eps >= 0)) throw new ArgumentException($"{nameof(L2Normalize)}: eps must be non-negative, got {eps}");
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        using (var xc = ContiguousNoGrad(x))
            K(x).L2Normalize(xc, eps, y);
        if (Tape.ShouldRecord(x))
        {
            Tape.Record(nameof(L2Normalize), y, [x], g =>
            {
                using var gc = Contiguous(g);
                using var xc = Contiguous(x);
                var dx = Tensor.Empty(x.Shape, x.DType, x.Device);
                K(x).L2NormalizeBackward(xc, gc, eps, dx);
                return [dx];
            });
        }
        return y;
    }

    /// <summary>
    /// Index of the nearest codebook row for each row of z (no gradient). Distances are computed as LlamaGen's
    /// VectorQuantizer does (spec §8.5): d = (‖z‖² + ‖e‖²) − 2·z·e in the operands' dtype, then argmin with ties going
    /// to the lowest index (torch.argmin). The quantizer first L2-normalises both z and the codebook
    /// (<see cref="L2Normalize"/> with eps 1e-12); this op does not.
    /// </summary>
    /// <param name="z">(M, D); any layout.</param>
    /// <param name="codebook">(K, D).</param>
    /// <returns>(M), Int64.</returns>
    public static Tensor NearestCode(Tensor z, Tensor codebook)
    {
        SameDevice(nameof(NearestCode), z, codebook);
        if (z.Rank != 2 || codebook.Rank != 2 || z.Shape[1] != codebook.Shape[1] || codebook.Shape[0] == 0)
            throw new ArgumentException($"{nameof(NearestCode)}: z {Tensor.ShapeString(z.Shape)} (M, D) and codebook {Tensor.ShapeString(codebook.Shape)} (K, D) do not match");
        if (z.DType != codebook.DType)
            throw new ArgumentException($"{nameof(NearestCode)}: dtypes {z.DType.ShortName()} and {codebook.DType.ShortName()} differ");
        var codes = Tensor.Empty([z.Shape[0]], DType.Int64, z.Device);
        using var zc = ContiguousNoGrad(z);
        using var ec = ContiguousNoGrad(codebook);
        K(z).NearestCode(zc, ec, codes);
        return codes;
    }
}
