using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Engine.Operations;

namespace Aim.BackendOps;

/// <summary>The result of one harness check.</summary>
public sealed record CheckResult(bool Passed, string Detail)
{
    /// <inheritdoc />
    public override string ToString() => (Passed ? "OK   " : "FAIL ") + Detail;
}

/// <summary>Runs <see cref="OpCase"/>s in test, grad and perf modes.</summary>
public static class Harness
{
    private static readonly ReferenceKernels s_reference = new();

    /// <summary>
    /// Test mode: runs the case on the reference kernels and on a target, compares every output by NMSE.
    /// <paramref name="runOnTarget"/> runs the forward on the target (e.g. with CPU kernels selected, or
    /// with inputs moved to a GPU) and returns host tensors.
    /// </summary>
    public static CheckResult Compare(OpCase c, string targetName, Func<OpCase, Tensor[], Tensor[]> runOnTarget)
    {
        using var scope = TensorScope.Open();
        using var noGrad = Tape.NoGrad();
        var inputs = c.MakeInputs(new Rng(c.Seed));
        Tensor[] expected;
        using (Backend.UseCpuKernels(s_reference)) expected = c.Forward(inputs);
        var actual = runOnTarget(c, inputs);
        if (actual.Length != expected.Length)
            return new(false, $"{c}: {actual.Length} outputs on {targetName}, {expected.Length} on reference");
        var details = new List<string>();
        bool ok = true;
        for (int i = 0; i < expected.Length; i++)
        {
            if (!actual[i].Shape.SequenceEqual(expected[i].Shape))
                return new(false, $"{c}: output {i} shape {Tensor.ShapeString(actual[i].Shape)} vs {Tensor.ShapeString(expected[i].Shape)}");
            var (nmse, maxAbs) = Error(expected[i].ToFloatArray64(), actual[i].ToFloatArray64());
            bool pass = nmse <= c.MaxNmse && !double.IsNaN(nmse);
            ok &= pass;
            details.Add($"out{i} nmse={nmse:E2} maxabs={maxAbs:E2}");
        }
        return new(ok, $"{c} [{targetName} vs reference, nmse<={c.MaxNmse:E0}] {string.Join("; ", details)}");
    }

    /// <summary>Test mode against the CPU SIMD kernels.</summary>
    public static CheckResult CompareCpu(OpCase c) => Compare(c, "cpu", (oc, inputs) =>
    {
        using (Backend.UseCpuKernels(Backend.Cpu.Kernels)) return oc.Forward(inputs);
    });

    /// <summary>(normalised mean squared error, max absolute difference).</summary>
    public static (double Nmse, double MaxAbs) Error(double[] expected, double[] actual)
    {
        double num = 0, den = 0, maxAbs = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = actual[i] - expected[i];
            if (double.IsNaN(actual[i]) != double.IsNaN(expected[i])) return (double.NaN, double.NaN);
            if (double.IsNaN(d)) continue;
            num += d * d;
            den += expected[i] * expected[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
        }
        return (den == 0 ? num : num / den, maxAbs);
    }

    /// <summary>
    /// Grad mode: casts float inputs to float64, runs forward + backward of L = Σ outputs·weights (fixed random
    /// weights) on the reference kernels, and compares each input's gradient with central differences.
    /// </summary>
    public static CheckResult GradCheck(OpCase c)
    {
        using var scope = TensorScope.Open();
        using var reference = Backend.UseCpuKernels(s_reference);
        var rng = new Rng(c.Seed);
        var raw = c.MakeInputs(rng);
        var inputs = new Tensor[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            inputs[i] = raw[i].DType.IsFloat() ? Ops.Cast(raw[i], DType.Float64) : raw[i];
            if (raw[i].DType.IsFloat() && !c.NoGradInputs.Contains(i)) inputs[i].RequiresGrad = true;
        }
        Tensor[] weights;
        Tensor loss;
        {
            var outs = c.Forward(inputs);
            weights = outs.Select(o => Ops.Cast(rng.Normal(o.Shape), DType.Float64)).ToArray();
            loss = WeightedSum(outs, weights);
        }
        Tape.Backward(loss);
        var failures = new List<string>();
        int probed = 0;
        double worst = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!inputs[i].RequiresGrad) continue;
            var x = inputs[i];
            var analytic = x.Grad?.ToArray<double>() ?? new double[x.Count];
            var data = x.AsSpan<double>();
            int samples = (int)Math.Min(c.GradSamples, x.Count);
            for (int s = 0; s < samples; s++)
            {
                int at = samples == x.Count ? s : rng.NextInt((int)x.Count);
                double orig = data[at];
                double plus, minus;
                using (Tape.NoGrad())
                {
                    data[at] = orig + c.GradEpsilon;
                    using (TensorScope.Open()) plus = WeightedSum(c.Forward(inputs), weights).Item();
                    data[at] = orig - c.GradEpsilon;
                    using (TensorScope.Open()) minus = WeightedSum(c.Forward(inputs), weights).Item();
                    data[at] = orig;
                }
                double numeric = (plus - minus) / (2 * c.GradEpsilon);
                double err = Math.Abs(numeric - analytic[at]);
                double allowed = c.GradAbsTol + c.GradRelTol * Math.Abs(numeric);
                worst = Math.Max(worst, err / allowed);
                probed++;
                if (!(err <= allowed) && failures.Count < 5)
                    failures.Add($"input{i}[{at}] numeric={numeric:G9} analytic={analytic[at]:G9}");
            }
        }
        foreach (var x in inputs) x.ZeroGrad();
        if (probed == 0) return new(false, $"{c}: no input requires a gradient");
        return new(failures.Count == 0, $"{c} [grad f64, {probed} probes, worst err/allowed={worst:F3}] {string.Join("; ", failures)}");
    }

    private static Tensor WeightedSum(Tensor[] outputs, Tensor[] weights)
    {
        Tensor? total = null;
        for (int i = 0; i < outputs.Length; i++)
        {
            var o = outputs[i].DType == DType.Float64 ? outputs[i] : Ops.Cast(outputs[i], DType.Float64);
            var s = Ops.Sum(Ops.Mul(o, weights[i]));
            total = total is null ? s : Ops.Add(total, s);
        }
        return total ?? throw new InvalidOperationException("case has no outputs");
    }

    private static double[] ToFloatArray64(this Tensor t)
    {
        using var d = Ops.Cast(t.Device.Kind == DeviceKind.Cpu ? t : t.To(Device.Cpu), DType.Float64);
        return d.ToArray<double>();
    }
}
