using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: kernel-level cases at the row counts where the CUDA RMS norms switch to a warp per row (forward:
// rms_norm_warp*, at least 1024 segments; backward: rms_norm_backward_rows* (a team of warps a row), at least 1024 rows;
// CudaKernels.Norm.cs WarpPath / BackwardRowsPath), so that the harness's CUDA run covers those paths as training uses them: the gated
// norm at AiM-B's width (z a column block of a wider row, as in_proj's output gives it), AddRmsNorm at AiM-B's
// d_model, a width that is not a multiple of 4 (the scalar forms) and plain RMSNorm. Forward-only comparisons with
// the reference (the gradients of these ops are checked at small sizes in OpCases.Norm / NormBackward).
public static partial class OpCases
{
    /// <summary>RmsNorm, AddRmsNorm and GatedRmsNorm forward and backward kernels at 1024+ rows.</summary>
    public static IEnumerable<OpCase> NormRowsPerWarpCases()
    {
        const double eps = 1e-5;
        foreach (var (rows, d) in new[] { (1030, 768), (1025, 257), (1037, 130) })
        {
            string p = $"rows={rows},D={d}";
            yield return new OpCase("Kernel.RmsNorm", p + ",warp",
                rng => [Randn(rng, rows, d), Rand(rng, 0.5, 1.5, d)],
                x =>
                {
                    var y = NormLike(x[0]);
                    NormKernels(x[0]).RmsNorm(x[0], x[1], eps, y);
                    return [y];
                }) { HasGradient = false };
            yield return new OpCase("Kernel.AddRmsNorm", p + ",warp",
                rng => [Randn(rng, rows, d), Randn(rng, rows, d), Rand(rng, 0.5, 1.5, d)],
                x =>
                {
                    Tensor normed = NormLike(x[0]), sum = NormLike(x[0]);
                    NormKernels(x[0]).AddRmsNorm(x[0], x[1], x[2], eps, normed, sum);
                    return [normed, sum];
                }) { HasGradient = false };
            yield return new OpCase("Kernel.RmsNormBackward", p + ",warp",
                rng => [Randn(rng, rows, d), Rand(rng, 0.5, 1.5, d), Randn(rng, rows, d)],
                x =>
                {
                    Tensor dx = NormLike(x[0]), dw = NormLike(x[1]);
                    NormKernels(x[0]).RmsNormBackward(x[0], x[1], x[2], eps, dx, dw);
                    return [dx, dw];
                }) { HasGradient = false };
            yield return new OpCase("Kernel.AddRmsNormBackward", p + ",warp",
                rng => [Randn(rng, rows, d), Rand(rng, 0.5, 1.5, d), Randn(rng, rows, d), Randn(rng, rows, d)],
                x =>
                {
                    Tensor ds = NormLike(x[0]), dw = NormLike(x[1]);
                    NormKernels(x[0]).AddRmsNormBackward(x[0], x[1], x[2], x[3], eps, ds, dw);
                    return [ds, dw];
                }) { HasGradient = false };
        }
        // The gated norm as AiM-B's block runs it: 1536 channels in one group, z the first 1536 columns of 3352-wide rows.
        const int gRows = 1040, gD = 1536, zWidth = 3352;
        yield return new OpCase("Kernel.GatedRmsNorm", $"rows={gRows},D={gD},z of {zWidth}-wide rows,warp",
            rng => [Randn(rng, gRows, gD), Randn(rng, gRows, zWidth), Rand(rng, 0.5, 1.5, gD)],
            x =>
            {
                var y = NormLike(x[0]);
                NormKernels(x[0]).GatedRmsNorm(x[0], x[1].Narrow(1, 0, gD), x[2], eps, gD, y);
                return [y];
            }) { HasGradient = false };
        // z at column 0 of the 3352-wide rows (16-byte aligned), then at column 1 (misaligned: the scalar form of the
        // backward's team kernel).
        foreach (int column in new[] { 0, 1 })
            yield return new OpCase("Kernel.GatedRmsNormBackward",
                column == 0 ? $"rows={gRows},D={gD},z of {zWidth}-wide rows,warp" : $"rows={gRows},D={gD},z at column 1 of {zWidth}-wide rows,warp",
                rng => [Randn(rng, gRows, gD), Randn(rng, gRows, zWidth), Rand(rng, 0.5, 1.5, gD), Randn(rng, gRows, gD)],
                x =>
                {
                    Tensor dx = NormLike(x[0]), dz = NormLike(x[0]), dw = NormLike(x[2]);
                    NormKernels(x[0]).GatedRmsNormBackward(x[0], x[1].Narrow(1, column, gD), x[2], x[3], eps, gD, dx, dz, dw);
                    return [dx, dz, dw];
                }) { HasGradient = false };
    }
}
