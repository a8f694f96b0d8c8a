// GPU-run checks of recorded decoding: a CUDA graph replays exactly what the eager ops compute, its memory is
// reserved while it lives and given back after, and whole-model generation on the GPU (recorded steps, device
// sampling) gives the CPU's tokens for the same seed.
using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Cuda.Tests;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;
using Aim.Models.Generation;
using Aim.Models.Stage2;

namespace Aim.Cuda.Check;

/// <summary>Checks of <see cref="Backend.Record"/> on cuda:0 and of <see cref="AimDecoder.Generate"/> across devices.</summary>
internal static class DecodeChecks
{
    public static IEnumerable<CudaCaseResult> All()
    {
        yield return Row("graph.replay == eager ops (x ← 0.5·x + 1, 10 replays)", ReplayMatchesEager);
        yield return Row("graph.memory reserved while recorded, returned on dispose", GraphMemoryIsReturned);
        foreach (var positions in new[] { DecodePositions.StepOffset, DecodePositions.Training })
            foreach (bool group in new[] { false, true })
                yield return Row($"generate cuda (graph) == cpu tokens, adaln_group={group}, {positions}", () => GenerateMatchesCpu(group, positions));
        yield return Row("generate cuda graph == cuda eager tokens", GraphMatchesEagerGenerate);
    }

    private static CudaCaseResult Row(string name, Func<string> check)
    {
        try
        {
            return new CudaCaseResult(name, "pass", double.NaN, check());
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or NotSupportedException or Aim.Engine.Cuda.Interop.CudaException)
        {
            return new CudaCaseResult(name, "FAIL", double.NaN, e.GetType().Name + ": " + e.Message);
        }
    }

    private static string ReplayMatchesEager()
    {
        using var scope = TensorScope.Open();
        using var noGrad = Tape.NoGrad();
        var start = new Rng(5).Normal([7, 257]);
        var gpu = start.To(CudaHarness.Device);
        var cpu = start.To(Device.Cpu);
        void Step(Tensor x) => Ops.CopyInto(Ops.AddScalar(Ops.Scale(x, 0.5), 1.0), x);
        using (var graph = Backend.Record(CudaHarness.Device, () => Step(gpu)))
            for (int i = 0; i < 10; i++)
            {
                graph.Replay();
                using (TensorScope.Open()) Step(cpu);
            }
        var a = cpu.ToArray<float>();
        var b = gpu.ToArray<float>();
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i]) throw new InvalidOperationException($"element {i}: cpu {a[i]} vs graph {b[i]}");
        return "bit-identical after 10 replays";
    }

    private static string GraphMemoryIsReturned()
    {
        var allocator = CudaBackend.For(CudaHarness.Device).Allocator;
        using var scope = TensorScope.Open();
        using var noGrad = Tape.NoGrad();
        var x = new Rng(6).Normal([1 << 16]).To(CudaHarness.Device);
        long before = allocator.GraphReservedBytes;
        long reserved;
        using (var graph = Backend.Record(CudaHarness.Device, () => Ops.CopyInto(Ops.Exp(Ops.Neg(x)), x)))
        {
            graph.Replay();
            reserved = allocator.GraphReservedBytes - before;
            if (reserved <= 0) throw new InvalidOperationException("the graph's temporaries were not kept for it");
        }
        long after = allocator.GraphReservedBytes - before;
        if (after != 0) throw new InvalidOperationException($"{after} bytes still reserved after dispose");
        return $"{reserved} bytes reserved, 0 after dispose";
    }

    private static AimModel TinyModel(bool group, DecodePositions positions)
    {
        var config = new AimConfig
        {
            DModel = 64, NLayer = 3, VocabSize = 300, NumClasses = 5, NumTokens = 20,
            AdalnGroup = group, NumGroups = group ? 2 : 1,
            Ssm = new SsmConfig { DState = 16, HeadDim = 16, ChunkSize = 8 },
            DecodePositions = positions,
        };
        var model = new AimModel(config);
        model.InitializeRandom(new Rng(17), zeroAdaLn: false);
        return model;
    }

    // Random weights put logits far apart relative to float32 noise (~1e-6): a sampled token flips only if a uniform
    // lands within that distance of a CDF boundary, which for these ~180 draws has probability below 1e-3.
    private static string GenerateMatchesCpu(bool group, DecodePositions positions)
    {
        var options = new SamplingOptions { CfgScale = 3, TopK = 50, TopP = 0.95 };
        long[] labels = [0, 3, 4, 1, 2, 2, 0, 1, 3];
        using var cpuModel = TinyModel(group, positions);
        var cpu = AimDecoder.Generate(cpuModel, labels, options, new Rng(9), Device.Cpu);
        using var gpuModel = TinyModel(group, positions);
        gpuModel.To(CudaHarness.Device);
        var gpu = AimDecoder.Generate(gpuModel, labels, options, new Rng(9), CudaHarness.Device);
        int same = cpu.Zip(gpu).Sum(p => p.First.Zip(p.Second).Count(q => q.First == q.Second));
        int total = labels.Length * cpuModel.Config.NumTokens;
        if (same != total) throw new InvalidOperationException($"{total - same} of {total} tokens differ");
        return $"{total} tokens equal";
    }

    private static string GraphMatchesEagerGenerate()
    {
        var options = new SamplingOptions { CfgScale = 5, TopK = 100, TopP = 0.98 };
        long[] labels = [1, 2, 3, 4];
        using var model = TinyModel(false, DecodePositions.StepOffset);
        model.To(CudaHarness.Device);
        var recorded = AimDecoder.Generate(model, labels, options, new Rng(11), CudaHarness.Device);
        var eager = AimDecoder.Generate(model, labels, options, new Rng(11), CudaHarness.Device, recordSteps: false);
        if (!recorded.SelectMany(r => r).SequenceEqual(eager.SelectMany(r => r))) throw new InvalidOperationException("recorded and eager decoding differ");
        return "identical";
    }
}
