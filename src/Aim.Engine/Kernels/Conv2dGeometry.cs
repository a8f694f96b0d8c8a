using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// Holds the size arithmetic of a 2-D convolution (PyTorch Conv2d with per-side zero padding, dilation 1, groups 1),
// shared by the Ops front-end and every backend so they agree on shapes and error messages.

/// <summary>The sizes of one 2-D convolution: input (N, Cin, H, W), weight (Cout, Cin, Kh, Kw), output (N, Cout, Ho, Wo).</summary>
/// <param name="N">Batch.</param>
/// <param name="Cin">Input channels.</param>
/// <param name="H">Input height.</param>
/// <param name="W">Input width.</param>
/// <param name="Cout">Output channels.</param>
/// <param name="Kh">Kernel height.</param>
/// <param name="Kw">Kernel width.</param>
/// <param name="Ho">Output height.</param>
/// <param name="Wo">Output width.</param>
/// <param name="Stride">Kernel step in both directions.</param>
/// <param name="PadTop">Zero rows above.</param>
/// <param name="PadLeft">Zero columns on the left.</param>
public readonly record struct Conv2dGeometry(int N, int Cin, int H, int W, int Cout, int Kh, int Kw, int Ho, int Wo, int Stride, int PadTop, int PadLeft)
{
    /// <summary>Rows of the im2col matrix: Cin·Kh·Kw.</summary>
    public int PatchSize => Cin * Kh * Kw;

    /// <summary>Output positions per image: Ho·Wo.</summary>
    public int OutputPixels => Ho * Wo;

    /// <summary>True for a 1×1, stride 1, unpadded convolution (a plain matrix product per image).</summary>
    public bool IsPointwise => Kh == 1 && Kw == 1 && Stride == 1 && PadTop == 0 && PadLeft == 0 && Ho == H && Wo == W;

    /// <summary>Multiply-adds of the forward pass.</summary>
    public long MultiplyAdds => (long)N * Cout * OutputPixels * PatchSize;

    /// <summary>
    /// Validates a convolution and computes its output size: Ho = (H + padTop + padBottom − Kh) / stride + 1 (floor), Wo likewise.
    /// </summary>
    /// <param name="op">Op name for error messages.</param>
    /// <param name="inputShape">(N, Cin, H, W).</param>
    /// <param name="weightShape">(Cout, Cin, Kh, Kw).</param>
    /// <param name="stride">≥ 1.</param>
    /// <param name="padTop">≥ 0.</param>
    /// <param name="padBottom">≥ 0.</param>
    /// <param name="padLeft">≥ 0.</param>
    /// <param name="padRight">≥ 0.</param>
    public static Conv2dGeometry Create(string op, ReadOnlySpan<int> inputShape, ReadOnlySpan<int> weightShape,
        int stride, int padTop, int padBottom, int padLeft, int padRight)
    {
        if (inputShape.Length != 4)
            throw new ArgumentException($"{op}: input must be (N, Cin, H, W), got shape {Tensor.ShapeString(inputShape)}");
        if (weightShape.Length != 4)
            throw new ArgumentException($"{op}: weight must be (Cout, Cin, kh, kw), got shape {Tensor.ShapeString(weightShape)}");
        if (weightShape[1] != inputShape[1])
            throw new ArgumentException($"{op}: weight {Tensor.ShapeString(weightShape)} expects {weightShape[1]} input channels, input {Tensor.ShapeString(inputShape)} has {inputShape[1]}");
        if (stride < 1)
            throw new ArgumentException($"{op}: stride must be at least 1, got {stride}");
        if (padTop < 0 || padBottom < 0 || padLeft < 0 || padRight < 0)
            throw new ArgumentException($"{op}: padding (top {padTop}, bottom {padBottom}, left {padLeft}, right {padRight}) must not be negative");
        int h = inputShape[2], w = inputShape[3], kh = weightShape[2], kw = weightShape[3];
        if (kh < 1 || kw < 1 || h + padTop + padBottom < kh || w + padLeft + padRight < kw)
            throw new ArgumentException(
                $"{op}: kernel {kh}x{kw} does not fit input {Tensor.ShapeString(inputShape)} padded by (top {padTop}, bottom {padBottom}, left {padLeft}, right {padRight})");
        int ho = (h + padTop + padBottom - kh) / stride + 1;
        int wo = (w + padLeft + padRight - kw) / stride + 1;
        return new Conv2dGeometry(inputShape[0], inputShape[1], h, w, weightShape[0], kh, kw, ho, wo, stride, padTop, padLeft);
    }
}
