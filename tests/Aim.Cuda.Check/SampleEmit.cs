// `--emit-sample DIR`: writes SampleTokens cases for the CUDA-on-CPU emulation runner (tests/cuda-emulation/
// sample_check.cpp). Inputs are drawn as in tests/Aim.BackendOps/OpCases.Sample.cs (OpCases.GuidancePair logits,
// random history); the expected outputs come from ReferenceKernels.SampleTokens and are compared exactly. No GPU.
//
// Layout of DIR: manifest.txt, one line per case (after a '#' header line):
//   name B V T cfg topK topP temperature seed counterBase positionShift
// (doubles written with "R", round-trip) and a folder DIR/name with raw little-endian files:
//   inputs:  logits.f32 (2B, V), steps.i64 (2B), history.i64 (B, T)
//   outputs: tokens.i64 (2B), steps_out.i64 (2B), positions.i64 (2B), history_out.i64 (B, T)
using System.Globalization;
using Aim.BackendOps;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

using static Aim.Cuda.Check.EmitFiles;

namespace Aim.Cuda.Check;

/// <summary>Writes SampleTokens cases with reference outputs for the CUDA emulation runner.</summary>
internal static class SampleEmit
{
    private const int Length = 5;

    /// <summary>Writes every case under <paramref name="dir"/>; returns the process exit code.</summary>
    public static int Run(string dir)
    {
        Directory.CreateDirectory(dir);
        var defaults = new SampleSettings(5, 600, 0.98, 1, 0x5A3D1EUL, 11, 1);
        (string Name, int B, int V, SampleSettings S, long Step)[] cases =
        [
            ("v7_b3_defaults", 3, 7, defaults, 0),
            ("v257_b3_topk20", 3, 257, defaults with { TopK = 20, TopP = 1 }, Length - 1),
            ("v257_b1_topp0.9", 1, 257, defaults with { TopK = 0, TopP = 0.9, PositionShift = 0 }, 2),
            ("v257_b3_neither", 3, 257, defaults with { TopK = 0, TopP = 1, CfgScale = 1.5 }, 1),
            ("v16384_b1_defaults", 1, 16384, defaults, 0),
            ("v16384_b2_temperature0.7", 2, 16384, defaults with { Temperature = 0.7, CfgScale = 2.5, PositionShift = 0 }, 3),
            // top-p over more than the 4096-key shared tile: the global scratch sort path.
            ("v16384_b2_topp0.5_k0", 2, 16384, defaults with { TopK = 0, TopP = 0.5 }, 1),
            ("v257_b2_step_out_of_range", 2, 257, defaults, Length),
            // Session 8 (the sampler's phases): each filter alone at the decode shape, top-p alone over the whole
            // vocabulary (global scratch), vocabularies that are not multiples of the 1024 threads (the draw's
            // per-thread chunks end mid-row), survivors filling the shared tile exactly, and many equal logits.
            ("v16384_b2_topk600_only", 2, 16384, defaults with { TopP = 1 }, 2),
            ("v16384_b1_topp0.98_only", 1, 16384, defaults with { TopK = 0 }, 0),
            ("v5000_b2_defaults", 2, 5000, defaults, 1),
            ("v5000_b1_topk4000_topp0.9", 1, 5000, defaults with { TopK = 4000, TopP = 0.9 }, 0),
            ("v3000_b2_topk1500_topp0.95", 2, 3000, defaults with { TopK = 1500, TopP = 0.95, PositionShift = 0 }, 2),
            ("v1000_b3_topk100_topp0.7_t1.3", 3, 1000, defaults with { TopK = 100, TopP = 0.7, Temperature = 1.3 }, 1),
            ("v1025_b1_neither", 1, 1025, defaults with { TopK = 0, TopP = 1 }, 0),
            ("v16384_b2_ties", 2, 16384, defaults, 1),
            // Guided values of -inf (two entries in three): at V 257 fewer than k = 100 are finite, so the k-th value
            // is -inf and top-k keeps every entry; at V 16384 the k-th value is finite.
            ("v257_b2_topk100_neginf", 2, 257, defaults with { TopK = 100, TopP = 0.9 }, 1),
            ("v16384_b1_neginf", 1, 16384, defaults, 0),
        ];
        var reference = new ReferenceKernels();
        using var manifest = new StreamWriter(Path.Combine(dir, "manifest.txt"));
        manifest.WriteLine("# name B V T cfg topK topP temperature seed counterBase positionShift");
        int index = 0;
        foreach (var (name, b, v, s, step) in cases)
        {
            using var scope = TensorScope.Open();
            var rng = new Rng(0x5A4DUL + (ulong)index++);
            string at = Path.Combine(dir, name);
            Directory.CreateDirectory(at);
            var logits = OpCases.GuidancePair(rng, b, v);
            if (name.EndsWith("_ties", StringComparison.Ordinal))
            {
                // Logits on a grid of 1/2: the guided values take a few hundred distinct values, so top-k cuts
                // inside a group of equal logits and top-p sorts long runs of equal values by index.
                var grid = logits.ToArray<float>();
                for (int i = 0; i < grid.Length; i++) grid[i] = MathF.Round(grid[i] * 2) / 2;
                logits = Tensor.FromArray(grid, [2 * b, v]);
            }
            if (name.EndsWith("_neginf", StringComparison.Ordinal))
            {
                // u = -1e38, c = -3e38: (c - u) * 5 overflows to -inf, and so does the guided u + (c - u) * 5.
                var rows = logits.ToArray<float>();
                for (int i = 0; i < b * v; i++)
                    if (i % 3 != 0)
                    {
                        rows[i] = -3e38f;
                        rows[b * v + i] = -1e38f;
                    }
                logits = Tensor.FromArray(rows, [2 * b, v]);
            }
            var stepsIn = Enumerable.Repeat(step, 2 * b).ToArray();
            var historyIn = new long[b * Length];
            for (int i = 0; i < historyIn.Length; i++) historyIn[i] = rng.NextInt(v);
            Write(at, "logits.f32", logits.ToArray<float>());
            Write(at, "steps.i64", stepsIn);
            Write(at, "history.i64", historyIn);

            var steps = Tensor.FromArray((long[])stepsIn.Clone(), [2 * b]);
            var history = Tensor.FromArray((long[])historyIn.Clone(), [b, Length]);
            var tokens = Tensor.Zeros([2 * b], DType.Int64);
            var positions = Tensor.Zeros([2 * b], DType.Int64);
            if (step < Length)
            {
                reference.SampleTokens(logits, steps, tokens, positions, history, s);
            }
            // Out of range (the host kernels throw): the CUDA kernel writes token 0 and position 0 and leaves the step
            // and the history unchanged (sample.cu), which the zero-filled tokens/positions and the copies express.
            Write(at, "tokens.i64", tokens.ToArray<long>());
            Write(at, "steps_out.i64", steps.ToArray<long>());
            Write(at, "positions.i64", positions.ToArray<long>());
            Write(at, "history_out.i64", history.ToArray<long>());
            manifest.WriteLine(string.Join(' ', name, I(b), I(v), I(Length), D(s.CfgScale), I(s.TopK), D(s.TopP), D(s.Temperature),
                s.Seed.ToString(CultureInfo.InvariantCulture), s.CounterBase.ToString(CultureInfo.InvariantCulture), I(s.PositionShift)));
            Console.WriteLine($"emit {name}");
        }
        Console.WriteLine($"wrote {cases.Length} SampleTokens cases to {Path.GetFullPath(dir)}");
        return 0;
    }
}
