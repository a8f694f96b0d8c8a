using System.Runtime.Intrinsics;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: Float32 threaded Embedding (row copies split by id) and EmbeddingBackward (scatter-add split by
// columns of D: each thread owns a column range and walks every id in order, so there are no races and
// repeated ids add in the same order on every run). Other dtypes go to the reference.
public unsafe partial class CpuKernels
{
    /// <inheritdoc />
    public override void Embedding(Tensor weight, Tensor ids, Tensor output)
    {
        if (weight.DType == DType.BFloat16 && output.DType == DType.Float32)
        {
            int dh = EmbeddingShapes(nameof(Embedding), weight, ids, output);
            NormChecks.IndicesInRange(nameof(Embedding), "token", ids, weight.Shape[0]);
            for (long i = 0; i < ids.Count; i++)
            {
                var row = (ushort*)weight.DataPointer + NormChecks.ReadIndex(ids, i) * dh;
                float* o = (float*)output.DataPointer + i * dh;
                for (int j = 0; j < dh; j++) o[j] = BitConverter.UInt32BitsToSingle((uint)row[j] << 16);
            }
            return;
        }
        if (weight.DType != DType.Float32) { base.Embedding(weight, ids, output); return; }
        int d = EmbeddingShapes(nameof(Embedding), weight, ids, output);
        NormChecks.IndicesInRange(nameof(Embedding), "token", ids, weight.Shape[0]);
        nint pw = weight.DataPointer, po = output.DataPointer;
        CpuParallel.For(ids.Count, NormSimd.RowGrain(d), (i0, i1) =>
        {
            for (long i = i0; i < i1; i++)
            {
                long id = NormChecks.ReadIndex(ids, i);
                new ReadOnlySpan<float>((float*)pw + id * d, d).CopyTo(new Span<float>((float*)po + i * d, d));
            }
        });
    }

    /// <inheritdoc />
    public override void EmbeddingBackward(Tensor ids, Tensor dOutput, Tensor dWeight)
    {
        if (dWeight.DType != DType.Float32) { base.EmbeddingBackward(ids, dOutput, dWeight); return; }
        int d = EmbeddingShapes(nameof(EmbeddingBackward), dWeight, ids, dOutput);
        NormChecks.IndicesInRange(nameof(EmbeddingBackward), "token", ids, dWeight.Shape[0]);
        nint pg = dOutput.DataPointer, pw = dWeight.DataPointer;
        long count = ids.Count;
        CpuParallel.For(d, 64, (c0, c1) =>
        {
            int width = (int)(c1 - c0);
            for (long i = 0; i < count; i++)
            {
                long id = NormChecks.ReadIndex(ids, i);
                float* src = (float*)pg + i * d + c0, dst = (float*)pw + id * d + c0;
                int j = 0;
                for (; j + 8 <= width; j += 8) (Vector256.Load(dst + j) + Vector256.Load(src + j)).Store(dst + j);
                for (; j < width; j++) dst[j] += src[j];
            }
        });
    }
}
