using System.Numerics;
using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels.Reference;

// provides: AdamWStep, EmaUpdate and SquaredNormPartials, reference versions: one element at a time, computed in double
// and rounded to the tensor's dtype once per stored value (torch.optim.AdamW's single-tensor formula); the list
// versions (AdamWStepMany, SquaredNormPartialsMany) call the single-tensor kernel per tensor (virtually, so a backend
// that overrides only the single kernel gets its own per-tensor path); GradClipScale evaluates GradClip.Scale.
public unsafe partial class ReferenceKernels
{
    /// <inheritdoc />
    public virtual void AdamWStep(Tensor grad, AdamWHyper hyper, Tensor param, Tensor m, Tensor v)
    {
        OptimChecks.AdamW(grad, hyper, param, m, v);
        if (IsDouble(nameof(AdamWStep), param.DType)) AdamWStepT<double>(grad, hyper, param, m, v);
        else AdamWStepT<float>(grad, hyper, param, m, v);
    }

    private static void AdamWStepT<T>(Tensor grad, AdamWHyper h, Tensor param, Tensor m, Tensor v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* pg = (T*)grad.DataPointer, pp = (T*)param.DataPointer, pm = (T*)m.DataPointer, pv = (T*)v.DataPointer;
        double stepSize = h.Lr / h.BiasCorrection1, sqrtBc2 = Math.Sqrt(h.BiasCorrection2), decay = 1 - h.Lr * h.WeightDecay;
        for (long i = 0; i < param.Count; i++)
        {
            double g = double.CreateChecked(pg[i]) * h.GradScale;
            double mi = h.Beta1 * double.CreateChecked(pm[i]) + (1 - h.Beta1) * g;
            double vi = h.Beta2 * double.CreateChecked(pv[i]) + (1 - h.Beta2) * g * g;
            double p = double.CreateChecked(pp[i]) * decay;
            p -= stepSize * mi / (Math.Sqrt(vi) / sqrtBc2 + h.Eps);
            pm[i] = T.CreateChecked(mi);
            pv[i] = T.CreateChecked(vi);
            pp[i] = T.CreateChecked(p);
        }
    }

    /// <inheritdoc />
    public virtual void EmaUpdate(Tensor source, double decay, Tensor ema)
    {
        OptimChecks.Ema(source, decay, ema);
        if (IsDouble(nameof(EmaUpdate), ema.DType))
        {
            double* ps = (double*)source.DataPointer, pe = (double*)ema.DataPointer;
            for (long i = 0; i < ema.Count; i++) pe[i] += (1 - decay) * (ps[i] - pe[i]);
        }
        else
        {
            float* ps = (float*)source.DataPointer, pe = (float*)ema.DataPointer;
            for (long i = 0; i < ema.Count; i++) pe[i] = (float)(pe[i] + (1 - decay) * ((double)ps[i] - pe[i]));
        }
    }

    /// <inheritdoc />
    public virtual void SquaredNormPartials(Tensor x, Tensor output)
    {
        OptimChecks.SquaredNormPartials(x, output);
        if (IsDouble(nameof(SquaredNormPartials), x.DType)) SquaredNormPartialsT<double>(x, output);
        else SquaredNormPartialsT<float>(x, output);
    }

    private static void SquaredNormPartialsT<T>(Tensor x, Tensor output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* px = (T*)x.DataPointer, po = (T*)output.DataPointer;
        long n = x.Count, c = OptimChecks.SquaredNormChunk(n, output.Count);
        for (long j = 0; j < output.Count; j++)
        {
            double sum = 0;
            for (long i = j * c; i < Math.Min(n, (j + 1) * c); i++)
            {
                double v = double.CreateChecked(px[i]);
                sum += v * v;
            }
            po[j] = T.CreateChecked(sum);
        }
    }

    /// <inheritdoc />
    public virtual void AdamWStepMany(IReadOnlyList<Tensor> grads, Tensor? gradScale, IReadOnlyList<AdamWHyper> hypers,
        IReadOnlyList<Tensor> parameters, IReadOnlyList<Tensor> ms, IReadOnlyList<Tensor> vs)
    {
        OptimChecks.AdamWMany(grads, gradScale, hypers, parameters, ms, vs);
        double s = gradScale is null ? 1 : ReadScalar(gradScale);
        if (!double.IsFinite(s)) return;                                   // a non-finite norm: nothing is updated
        for (int i = 0; i < parameters.Count; i++)
            AdamWStep(grads[i], hypers[i] with { GradScale = hypers[i].GradScale * s }, parameters[i], ms[i], vs[i]);
    }

    /// <inheritdoc />
    public virtual void SquaredNormPartialsMany(IReadOnlyList<Tensor> xs, IReadOnlyList<int> counts, Tensor output)
    {
        OptimChecks.SquaredNormPartialsMany(xs, counts, output);
        long at = output.Offset;
        for (int i = 0; i < xs.Count; i++)
        {
            using var slice = output.CreateView([counts[i]], [1], at);       // (k_i)
            SquaredNormPartials(xs[i], slice);
            at += counts[i];
        }
    }

    /// <inheritdoc />
    public virtual void GradClipScale(Tensor sumOfSquares, double gradScale, double maxNorm, Tensor output)
    {
        OptimChecks.GradClipScale(sumOfSquares, gradScale, output);
        double scale = Optim.GradClip.Scale(ReadScalar(sumOfSquares), gradScale, maxNorm);
        if (IsDouble(nameof(GradClipScale), output.DType)) *(double*)output.DataPointer = scale;
        else *(float*)output.DataPointer = (float)scale;
    }

    /// <summary>Element 0 of a one-element float32 or float64 tensor in host memory, as double.</summary>
    private static double ReadScalar(Tensor t) => IsDouble("optimizer scalar", t.DType) ? *(double*)t.DataPointer : *(float*)t.DataPointer;
}
