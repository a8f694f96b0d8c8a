using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: SampleTokens with the images in parallel (one TokenSampler scratch per chunk of images). Each image's
// arithmetic is the reference's, so the results are identical to it for any thread count.
public unsafe partial class CpuKernels
{
    /// <inheritdoc />
    public override void SampleTokens(Tensor logits, Tensor steps, Tensor tokens, Tensor positions, Tensor history, in SampleSettings settings)
        => SampleTokens(logits, steps, tokens, positions, history, settings,
            (images, body) => CpuParallel.For(images, 1, (start, end) => body((int)start, (int)end)));
}
