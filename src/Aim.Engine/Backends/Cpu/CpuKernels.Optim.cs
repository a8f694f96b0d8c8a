using System.Runtime.Intrinsics;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Backends.Cpu;

// provides: Float32 AdamWStep, EmaUpdate and SquaredNormPartials with Vector256 lanes and threads (chunks depend only on the size),
// and AdamWStepMany, which forms each tensor's gradient scale in float32 (as optim.cu does) and runs AdamWStep per tensor
// (the list versions of the reference already loop over the single kernels, so SquaredNormPartialsMany needs nothing here).
// Same formula as ReferenceKernels.Optim.cs, evaluated in float32 with the scalars rounded once per call; the
// lane loop and the tail use the same operation order, so every element gets the same bits wherever it falls.
public unsafe partial class CpuKernels
{
    private const long OptimGrain = 1 << 14;

    /// <inheritdoc />
    public override void AdamWStep(Tensor grad, AdamWHyper hyper, Tensor param, Tensor m, Tensor v)
    {
        if (param.DType != DType.Float32) { base.AdamWStep(grad, hyper, param, m, v); return; }
        OptimChecks.AdamW(grad, hyper, param, m, v);
        float scale = (float)hyper.GradScale, b1 = (float)hyper.Beta1, c1 = (float)(1 - hyper.Beta1);
        float b2 = (float)hyper.Beta2, c2 = (float)(1 - hyper.Beta2), eps = (float)hyper.Eps;
        float decay = (float)(1 - hyper.Lr * hyper.WeightDecay), stepSize = (float)(hyper.Lr / hyper.BiasCorrection1);
        float invSqrtBc2 = (float)(1 / Math.Sqrt(hyper.BiasCorrection2));
        float* pg = (float*)grad.DataPointer, pp = (float*)param.DataPointer, pm = (float*)m.DataPointer, pv = (float*)v.DataPointer;
        CpuParallel.For(param.Count, OptimGrain, (s, e) =>
        {
            long i = s;
            var vScale = Vector256.Create(scale); var vb1 = Vector256.Create(b1); var vc1 = Vector256.Create(c1);
            var vb2 = Vector256.Create(b2); var vc2 = Vector256.Create(c2); var vEps = Vector256.Create(eps);
            var vDecay = Vector256.Create(decay); var vStep = Vector256.Create(stepSize); var vInv = Vector256.Create(invSqrtBc2);
            for (; i + 8 <= e; i += 8)
            {
                var g = Vector256.Load(pg + i) * vScale;
                var mi = vb1 * Vector256.Load(pm + i) + vc1 * g;
                var vi = vb2 * Vector256.Load(pv + i) + vc2 * (g * g);
                var p = Vector256.Load(pp + i) * vDecay;
                p -= vStep * mi / (Vector256.Sqrt(vi) * vInv + vEps);
                mi.Store(pm + i);
                vi.Store(pv + i);
                p.Store(pp + i);
            }
            for (; i < e; i++)
            {
                float g = pg[i] * scale;
                float mi = b1 * pm[i] + c1 * g;
                float vi = b2 * pv[i] + c2 * (g * g);
                float p = pp[i] * decay;
                p -= stepSize * mi / (MathF.Sqrt(vi) * invSqrtBc2 + eps);
                pm[i] = mi;
                pv[i] = vi;
                pp[i] = p;
            }
        });
    }

    /// <inheritdoc />
    public override void EmaUpdate(Tensor source, double decay, Tensor ema)
    {
        if (ema.DType != DType.Float32) { base.EmaUpdate(source, decay, ema); return; }
        OptimChecks.Ema(source, decay, ema);
        float rate = (float)(1 - decay);
        float* ps = (float*)source.DataPointer, pe = (float*)ema.DataPointer;
        CpuParallel.For(ema.Count, OptimGrain, (s, e) =>
        {
            long i = s;
            var vRate = Vector256.Create(rate);
            for (; i + 8 <= e; i += 8)
            {
                var x = Vector256.Load(pe + i);
                (x + vRate * (Vector256.Load(ps + i) - x)).Store(pe + i);
            }
            for (; i < e; i++) pe[i] += rate * (ps[i] - pe[i]);
        });
    }

    /// <inheritdoc />
    public override void SquaredNormPartials(Tensor x, Tensor output)
    {
        if (x.DType != DType.Float32) { base.SquaredNormPartials(x, output); return; }
        OptimChecks.SquaredNormPartials(x, output);
        float* px = (float*)x.DataPointer, po = (float*)output.DataPointer;
        long n = x.Count, c = OptimChecks.SquaredNormChunk(n, output.Count);
        // One task per output chunk: the eight float lanes of a short run are summed into double per run of 4096.
        CpuParallel.For(output.Count, Math.Max(1, OptimGrain / c), (s, e) =>
        {
            for (long j = s; j < e; j++)
            {
                long i = j * c, end = Math.Min(n, (j + 1) * c);
                double sum = 0;
                while (i < end)
                {
                    long runEnd = Math.Min(end, i + 4096);
                    var acc = Vector256<float>.Zero;
                    for (; i + 8 <= runEnd; i += 8)
                    {
                        var v = Vector256.Load(px + i);
                        acc += v * v;
                    }
                    for (int l = 0; l < 8; l++) sum += acc.GetElement(l);
                    for (; i < runEnd; i++) sum += (double)px[i] * px[i];
                }
                po[j] = (float)sum;
            }
        });
    }

    /// <inheritdoc />
    public override void AdamWStepMany(IReadOnlyList<Tensor> grads, Tensor? gradScale, IReadOnlyList<AdamWHyper> hypers,
        IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor> ms, IReadOnlyList<Tensor> vs)
    {
        if (parameters.Count == 0 || parameters[0].DType != DType.Float32) { base.AdamWStepMany(grads, gradScale, hypers, parameters, ms, vs); return; }
        OptimChecks.AdamWMany(grads, gradScale, hypers, parameters, ms, vs);
        float s = gradScale is null ? 1f : *(float*)gradScale.DataPointer;
        if (!float.IsFinite(s)) return;                                    // a non-finite norm: nothing is updated
        for (int i = 0; i < parameters.Count; i++)
        {
            float scale = (float)hypers[i].GradScale * s;                       // exact when either factor is 1
            AdamWStep(grads[i], hypers[i] with { GradScale = scale }, parameters[i], ms[i], vs[i]);
        }
    }
}
