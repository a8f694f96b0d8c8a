using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

// provides: the image kernels of the VQ tokenizer (LlamaGen VQModel, spec §8): 2-D convolution with asymmetric zero
// padding and its two backward kernels, nearest ×2 upsampling and its backward, L2 row normalisation
// (F.normalize) and its backward, and the nearest-codebook-row search of the quantizer (§8.5).
public partial interface IKernels
{
    /// <summary>
    /// 2-D cross-correlation (PyTorch Conv2d, groups 1, dilation 1) with zero padding, which may differ per side
    /// (LlamaGen's Downsample pads only right and bottom by one):
    /// output[n, co, oy, ox] = bias[co] + Σ_{ci, ky, kx} weight[co, ci, ky, kx] · xpad[n, ci, oy·stride + ky, ox·stride + kx],
    /// where xpad is x with <paramref name="padTop"/> zero rows above, <paramref name="padBottom"/> below, and likewise columns.
    /// Ho = (H + padTop + padBottom − kh) / stride + 1, Wo likewise (floor).
    /// </summary>
    /// <param name="x">(N, Cin, H, W).</param>
    /// <param name="weight">(Cout, Cin, kh, kw).</param>
    /// <param name="bias">(Cout), or null for none.</param>
    /// <param name="stride">Step of the kernel in both directions, ≥ 1.</param>
    /// <param name="padTop">Zero rows added above, ≥ 0.</param>
    /// <param name="padBottom">Zero rows added below, ≥ 0.</param>
    /// <param name="padLeft">Zero columns added left, ≥ 0.</param>
    /// <param name="padRight">Zero columns added right, ≥ 0.</param>
    /// <param name="output">(N, Cout, Ho, Wo).</param>
    void Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor output);

    /// <summary>
    /// Gradient of <see cref="Conv2d"/> with respect to its input: dInput[n, ci, iy, ix] = Σ over every (co, oy, ox, ky, kx)
    /// with oy·stride + ky − padTop = iy and ox·stride + kx − padLeft = ix of dOutput[n, co, oy, ox] · weight[co, ci, ky, kx].
    /// Input rows and columns that no output reads (stride remainder) get zero.
    /// </summary>
    /// <param name="dOutput">(N, Cout, Ho, Wo).</param>
    /// <param name="weight">(Cout, Cin, kh, kw).</param>
    /// <param name="stride">As in the forward.</param>
    /// <param name="padTop">As in the forward.</param>
    /// <param name="padBottom">As in the forward.</param>
    /// <param name="padLeft">As in the forward.</param>
    /// <param name="padRight">As in the forward.</param>
    /// <param name="dInput">(N, Cin, H, W): its shape gives the forward input size.</param>
    void Conv2dBackwardInput(Tensor dOutput, Tensor weight, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor dInput);

    /// <summary>
    /// Gradient of <see cref="Conv2d"/> with respect to its weight:
    /// dWeight[co, ci, ky, kx] = Σ_{n, oy, ox} dOutput[n, co, oy, ox] · xpad[n, ci, oy·stride + ky, ox·stride + kx].
    /// (The bias gradient is the sum of dOutput over n, oy, ox, which needs no kernel of its own.)
    /// </summary>
    /// <param name="x">(N, Cin, H, W).</param>
    /// <param name="dOutput">(N, Cout, Ho, Wo).</param>
    /// <param name="stride">As in the forward.</param>
    /// <param name="padTop">As in the forward.</param>
    /// <param name="padBottom">As in the forward.</param>
    /// <param name="padLeft">As in the forward.</param>
    /// <param name="padRight">As in the forward.</param>
    /// <param name="dWeight">(Cout, Cin, kh, kw): its shape gives the kernel size.</param>
    void Conv2dBackwardWeight(Tensor x, Tensor dOutput, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor dWeight);

    /// <summary>Nearest-neighbour ×2 upsampling (F.interpolate(scale_factor=2, mode="nearest")): output[n, c, y, x] = x[n, c, y/2, x/2].</summary>
    /// <param name="x">(N, C, H, W).</param>
    /// <param name="output">(N, C, 2H, 2W).</param>
    void UpsampleNearest2x(Tensor x, Tensor output);

    /// <summary>Gradient of <see cref="UpsampleNearest2x"/>: dInput[n, c, y, x] = sum of the 2×2 block dOutput[n, c, 2y..2y+1, 2x..2x+1].</summary>
    /// <param name="dOutput">(N, C, 2H, 2W).</param>
    /// <param name="dInput">(N, C, H, W).</param>
    void UpsampleNearest2xBackward(Tensor dOutput, Tensor dInput);

    /// <summary>
    /// Row-wise L2 normalisation with F.normalize semantics: output = x / max(‖x‖₂, eps) over the last dimension.
    /// </summary>
    /// <param name="x">(..., D).</param>
    /// <param name="eps">Lower bound of the divisor (1e-12 in the quantizer).</param>
    /// <param name="output">(..., D).</param>
    void L2Normalize(Tensor x, double eps, Tensor output);

    /// <summary>
    /// Gradient of <see cref="L2Normalize"/>. With n = ‖x‖₂ and y = x / n: dInput = (dOutput − y·(y·dOutput)) / n when n ≥ eps
    /// (torch's clamp_min passes the gradient at equality), else dOutput / eps (the divisor is the constant eps).
    /// </summary>
    /// <param name="x">(..., D): the forward input.</param>
    /// <param name="dOutput">(..., D).</param>
    /// <param name="eps">As in the forward.</param>
    /// <param name="dInput">(..., D).</param>
    void L2NormalizeBackward(Tensor x, Tensor dOutput, double eps, Tensor dInput);

    /// <summary>
    /// For each row of z, the index of the codebook row at the smallest squared distance, computed the way the
    /// original quantizer does (spec §8.5): d[m, k] = (‖z_m‖² + ‖e_k‖²) − 2·(z_m · e_k), each of the three terms summed
    /// in the operands' dtype in increasing d order, then argmin over k with ties going to the lowest index (torch.argmin).
    /// The quantizer calls it on L2-normalised rows, where the two squared norms are ≈ 1. No gradient.
    /// </summary>
    /// <param name="z">(M, D).</param>
    /// <param name="codebook">(K, D), same dtype as z.</param>
    /// <param name="output">(M), Int64.</param>
    void NearestCode(Tensor z, Tensor codebook, Tensor output);
}
