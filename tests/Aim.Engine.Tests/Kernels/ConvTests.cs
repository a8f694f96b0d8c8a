using Aim.BackendOps;
using Aim.Engine.Autograd;
using Aim.Engine.Backends;
using Aim.Engine.Backends.Cpu;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Random;
using Aim.Engine.Tensors;

namespace Aim.Engine.Tests.Kernels;

/// <summary>
/// Hand-checked values for the VQ image kernels, the Downsample output size, NearestCode tie-breaking, and the CPU
/// backward kernels against the reference ones (the harness compares forwards only).
/// </summary>
public class ConvTests
{
    private static readonly IKernels s_reference = new ReferenceKernels();

    /// <summary>Both CPU kernel sets: the reference and the fast one.</summary>
    public static TheoryData<string> KernelSets() => ["reference", "cpu"];

    private static IDisposable Use(string kernels) => Backend.UseCpuKernels(kernels == "cpu" ? Backend.Cpu.Kernels : s_reference);

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void Conv2dMatchesHandComputedValues(string kernels)
    {
        using var scope = TensorScope.Open();
        using var use = Use(kernels);
        // x = 1..9 as 3x3, weight [[1, 2], [3, 4]], bias 0.5, stride 1, no padding:
        // y[0,0] = 1·1 + 2·2 + 3·4 + 4·5 + 0.5 = 37.5, y[0,1] = 47.5, y[1,0] = 67.5, y[1,1] = 77.5.
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, [1, 1, 3, 3]);
        var w = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, [1, 1, 2, 2]);
        var b = Tensor.FromArray(new float[] { 0.5f });
        var y = Ops.Conv2d(x, w, b, 1, 0, 0, 0, 0);
        Assert.Equal([1, 1, 2, 2], y.Shape.ToArray());
        Assert.Equal(new float[] { 37.5f, 47.5f, 67.5f, 77.5f }, y.ToArray<float>());

        // LlamaGen Downsample on x = 1..16 (4x4) with an all-ones 3x3 kernel: pad bottom/right by one, stride 2.
        // Windows: rows 0-2 x cols 0-2 = 54, rows 0-2 x cols 2-3 (+pad) = 45, rows 2-3 (+pad) x cols 0-2 = 72, rows 2-3 x cols 2-3 = 54.
        var x4 = Tensor.FromArray(Enumerable.Range(1, 16).Select(i => (float)i).ToArray(), [1, 1, 4, 4]);
        var ones = Tensor.Full([1, 1, 3, 3], 1.0);
        var down = Ops.Conv2d(x4, ones, null, 2, 0, 1, 0, 1);
        Assert.Equal(new float[] { 54, 45, 72, 54 }, down.ToArray<float>());

        // Two input channels, two output channels, 1x1 (the plain-GEMM path): y[o] = Σ_c w[o, c] x[c] + b[o].
        var xc = Tensor.FromArray(new float[] { 1, 2, 3, 4, 10, 20, 30, 40 }, [1, 2, 2, 2]);
        var wc = Tensor.FromArray(new float[] { 1, 0.5f, -1, 2 }, [2, 2, 1, 1]);
        var bc = Tensor.FromArray(new float[] { 0, 1 });
        var yc = Ops.Conv2d(xc, wc, bc, 1, 0, 0, 0, 0);
        Assert.Equal(new float[] { 6, 12, 18, 24, 20, 39, 58, 77 }, yc.ToArray<float>());
    }

    [Fact]
    public void DownsamplePaddingHalvesEvenAndOddSizes()
    {
        // Spec §8.4: pad (top 0, bottom 1, left 0, right 1), 3x3, stride 2: 256 -> 128, 16 -> 8; odd 7 -> 3.
        var g = Conv2dGeometry.Create("test", [1, 128, 256, 256], [128, 128, 3, 3], 2, 0, 1, 0, 1);
        Assert.Equal((128, 128), (g.Ho, g.Wo));
        using var scope = TensorScope.Open();
        var rng = new Rng(7);
        var y = Ops.Conv2d(rng.Normal([2, 3, 16, 7]), rng.Normal([5, 3, 3, 3]), rng.Normal([5]), 2, 0, 1, 0, 1);
        Assert.Equal([2, 5, 8, 3], y.Shape.ToArray());
        // Symmetric padding 1 keeps the size at stride 1 (the "same" convs of the ResnetBlock).
        var same = Ops.Conv2d(rng.Normal([1, 3, 5, 7]), rng.Normal([4, 3, 3, 3]), null, 1, 1, 1, 1, 1);
        Assert.Equal([1, 4, 5, 7], same.Shape.ToArray());
        var e = Assert.Throws<ArgumentException>(() => Ops.Conv2d(rng.Normal([1, 3, 2, 2]), rng.Normal([4, 3, 3, 3]), null, 1, 0, 0, 0, 0));
        Assert.Contains("Conv2d", e.Message);
        Assert.Contains("3x3", e.Message);
        var c = Assert.Throws<ArgumentException>(() => Ops.Conv2d(rng.Normal([1, 2, 5, 5]), rng.Normal([4, 3, 3, 3]), null, 1, 1, 1, 1, 1));
        Assert.Contains("[1, 2, 5, 5]", c.Message);
    }

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void NearestCodeBreaksTiesTowardsTheLowestIndex(string kernels)
    {
        using var scope = TensorScope.Open();
        using var use = Use(kernels);
        // 18 codebook rows (two SIMD blocks of 8 and a tail of 2) far from the queries, except exact duplicates of
        // (0, 1) at 17, 4, 12 and of (1, 0) at 10 and 2, and (s, s) with s = √½ as float is equidistant from (1,0) and (0,1).
        const int k = 18;
        var book = new float[k * 2];
        for (int j = 0; j < k; j++)
        {
            book[2 * j] = -1;
            book[2 * j + 1] = -0.01f * j;
        }
        void Set(int j, float a, float b)
        {
            book[2 * j] = a;
            book[2 * j + 1] = b;
        }
        Set(17, 0, 1);
        Set(4, 0, 1);
        Set(12, 0, 1);
        Set(10, 1, 0);
        Set(2, 1, 0);
        float s = MathF.Sqrt(0.5f);
        var z = Tensor.FromArray(new float[] { 0, 1, 1, 0, s, s, 0.6f, 0.8f, 0.8f, 0.6f }, [5, 2]);
        var codes = Ops.NearestCode(z, Tensor.FromArray(book, [k, 2])).ToArray<long>();
        Assert.Equal(new long[] { 4, 2, 2, 4, 2 }, codes);

        // Only the tail holds the best row, and a duplicate of it in the tail: the first one wins.
        Set(4, 0, -1);
        Set(12, 0, -1);
        Set(10, -1, 0);
        Set(2, -1, 0);
        codes = Ops.NearestCode(Tensor.FromArray(new float[] { 0, 1 }, [1, 2]), Tensor.FromArray(book, [k, 2])).ToArray<long>();
        Assert.Equal(new long[] { 17 }, codes);
        Set(16, 0, 1);
        codes = Ops.NearestCode(Tensor.FromArray(new float[] { 0, 1 }, [1, 2]), Tensor.FromArray(book, [k, 2])).ToArray<long>();
        Assert.Equal(new long[] { 16 }, codes);
    }

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void L2NormalizeAndUpsampleMatchHandComputedValues(string kernels)
    {
        using var scope = TensorScope.Open();
        using var use = Use(kernels);
        var y = Ops.L2Normalize(Tensor.FromArray(new float[] { 3, 4, 0, 0 }, [2, 2]), 1e-12);
        Assert.Equal(new float[] { 0.6f, 0.8f, 0, 0 }, y.ToArray<float>());
        var u = Ops.UpsampleNearest2x(Tensor.FromArray(new float[] { 1, 2, 3, 4 }, [1, 1, 2, 2]));
        Assert.Equal(new float[] { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 }, u.ToArray<float>());
    }

    // N, Cin, Cout, H, W, kh, kw, stride, padTop, padBottom, padLeft, padRight
    private static readonly int[][] s_backwardGeometries =
    [
        [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
        [2, 3, 7, 5, 7, 3, 3, 1, 1, 1, 1, 1],
        [1, 7, 3, 8, 8, 3, 3, 2, 0, 1, 0, 1],
        [2, 3, 3, 7, 5, 3, 3, 2, 0, 1, 0, 1],
        [2, 7, 5, 5, 5, 1, 1, 1, 0, 0, 0, 0],
        [1, 3, 7, 7, 8, 1, 1, 2, 0, 0, 0, 0],
        [2, 3, 5, 8, 7, 3, 3, 1, 2, 0, 1, 3],
        [2, 1, 3, 7, 7, 2, 3, 2, 1, 0, 0, 2],
        [1, 31, 33, 9, 9, 3, 3, 1, 1, 1, 1, 1],
    ];

    /// <summary>Indices into the backward geometries.</summary>
    public static TheoryData<int> BackwardGeometries() => [.. Enumerable.Range(0, s_backwardGeometries.Length)];

    [Theory]
    [MemberData(nameof(BackwardGeometries))]
    public void CpuConvKernelsMatchReferenceWholeAndBanded(int index)
    {
        var p = s_backwardGeometries[index];
        int n = p[0], cin = p[1], cout = p[2], h = p[3], w = p[4], kh = p[5], kw = p[6], stride = p[7], pt = p[8], pb = p[9], pl = p[10], pr = p[11];
        using var scope = TensorScope.Open();
        var rng = new Rng((ulong)(index + 1));
        var g = Conv2dGeometry.Create("test", [n, cin, h, w], [cout, cin, kh, kw], stride, pt, pb, pl, pr);
        var x = rng.Normal([n, cin, h, w]);
        var weight = rng.Normal([cout, cin, kh, kw]);
        var dy = rng.Normal([n, cout, g.Ho, g.Wo]);
        foreach (var cpu in new IKernels[] { Backend.Cpu.Kernels, new CpuKernels { ColumnBudget = 64 }, new CpuKernels { ColumnBudget = 400 } })
            CompareConvKernels(cpu, x, weight, dy, stride, pt, pb, pl, pr);
    }

    /// <summary>Forward and both backward kernels of <paramref name="cpu"/> against the reference (outputs prefilled with junk).</summary>
    private static void CompareConvKernels(IKernels cpu, Tensor x, Tensor weight, Tensor dy, int stride, int pt, int pb, int pl, int pr)
    {
        var bias = Tensor.Full([weight.Shape[0]], 0.25);
        var yRef = Tensor.Empty(dy.Shape);
        var yCpu = Tensor.Full(dy.Shape, 123.0);
        s_reference.Conv2d(x, weight, bias, stride, pt, pb, pl, pr, yRef);
        cpu.Conv2d(x, weight, bias, stride, pt, pb, pl, pr, yCpu);
        AssertClose(yRef, yCpu);
        var dxRef = Tensor.Empty(x.Shape);
        var dxCpu = Tensor.Full(x.Shape, 123.0); // the kernel must overwrite, not accumulate
        s_reference.Conv2dBackwardInput(dy, weight, stride, pt, pb, pl, pr, dxRef);
        cpu.Conv2dBackwardInput(dy, weight, stride, pt, pb, pl, pr, dxCpu);
        AssertClose(dxRef, dxCpu);
        var dwRef = Tensor.Empty(weight.Shape);
        var dwCpu = Tensor.Full(weight.Shape, 123.0);
        s_reference.Conv2dBackwardWeight(x, dy, stride, pt, pb, pl, pr, dwRef);
        cpu.Conv2dBackwardWeight(x, dy, stride, pt, pb, pl, pr, dwCpu);
        AssertClose(dwRef, dwCpu);
    }

    [Fact]
    public void CpuUpsampleAndL2NormalizeBackwardMatchReference()
    {
        using var scope = TensorScope.Open();
        var rng = new Rng(11);
        var cpu = Backend.Cpu.Kernels;
        foreach (int[] s in new[] { new[] { 1, 1, 1, 1 }, [2, 3, 5, 7], [1, 1, 1, 257] })
        {
            var dy = rng.Normal([s[0], s[1], 2 * s[2], 2 * s[3]]);
            var a = Tensor.Empty(s);
            var b = Tensor.Full(s, 123.0);
            s_reference.UpsampleNearest2xBackward(dy, a);
            cpu.UpsampleNearest2xBackward(dy, b);
            AssertClose(a, b);
        }
        foreach (var (shape, eps) in new (int[], double)[] { ([1, 1], 1e-12), ([7, 8], 1e-12), ([3, 257], 1e-12), ([5, 7], 10.0) })
        {
            var x = rng.Normal(shape);
            var dy = rng.Normal(shape);
            var a = Tensor.Empty(shape);
            var b = Tensor.Full(shape, 123.0);
            s_reference.L2NormalizeBackward(x, dy, eps, a);
            cpu.L2NormalizeBackward(x, dy, eps, b);
            AssertClose(a, b);
        }
    }

    [Fact]
    public void Conv2dGradientsFlowToAllThreeInputsInFloat32()
    {
        // The float32 CPU path end to end through the tape: dBias = Σ dY over (n, y, x); here dY = 1 and the output is
        // (2, 4, 2, 2) (5 padded to 6, 3x3 stride 2), so every bias gets 2·2·2 = 8.
        using var scope = TensorScope.Open();
        var rng = new Rng(5);
        var x = rng.Normal([2, 3, 5, 5]);
        var w = rng.Normal([4, 3, 3, 3]);
        var b = rng.Normal([4]);
        x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
        var y = Ops.Conv2d(x, w, b, 2, 0, 1, 0, 1);
        Tape.Backward(Ops.Sum(y));
        Assert.Equal(new float[] { 8, 8, 8, 8 }, b.Grad!.ToArray<float>());
        Assert.Equal(x.Shape.ToArray(), x.Grad!.Shape.ToArray());
        Assert.Equal(w.Shape.ToArray(), w.Grad!.Shape.ToArray());
        x.ZeroGrad();
        w.ZeroGrad();
        b.ZeroGrad();
    }

    /// <summary>VQ fixture folders (config.json with codebook_size, safetensors weights and expectations), found by content.</summary>
    public static TheoryData<string> VqFixtureFolders()
    {
        var data = new TheoryData<string>();
        foreach (string rel in Aim.BackendOps.Fixtures.ConfigFolders())
        {
            string dir = Aim.BackendOps.Fixtures.Resolve(rel);
            if (File.ReadAllText(Path.Combine(dir, "config.json")).Contains("\"codebook_size\"", StringComparison.Ordinal)
                && File.Exists(Path.Combine(dir, "model.safetensors")) && File.Exists(Path.Combine(dir, "expected.safetensors")))
                data.Add(rel);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(VqFixtureFolders))]
    public void QuantizerReproducesTheFixtureCodes(string folder)
    {
        // A VQ fixture made by the original VQModel (fp32): codes = argmin over the l2-normalised latent rows
        // (B, D, H, W) -> (B·H·W, D) vs the l2-normalised codebook; quant = the chosen normalised rows, back in NCHW.
        string dir = Aim.BackendOps.Fixtures.Resolve(folder);
        using var scope = TensorScope.Open();
        var expected = ReadSafetensors(Path.Combine(dir, "expected.safetensors"));
        var model = ReadSafetensors(Path.Combine(dir, "model.safetensors"));
        var latent = expected["latent"];
        var book = model["quantize.embedding.weight"];
        var rows = Ops.Reshape(Ops.Permute(latent, 0, 2, 3, 1), -1, latent.Shape[1]);
        var bookNorm = Ops.L2Normalize(book, 1e-12);
        foreach (string kernels in new[] { "reference", "cpu" })
        {
            using var use = Use(kernels);
            var codes = Ops.NearestCode(Ops.L2Normalize(rows, 1e-12), bookNorm);
            Assert.Equal(expected["codes"].ToArray<long>(), codes.ToArray<long>());
            // quant[b, c, y, x] = normalised codebook row codes[b, y·W + x], component c (up to the ulp of z + (e − z)).
            var quant = expected["quant"].ToArray<float>();
            var e = bookNorm.ToArray<float>();
            var c = codes.ToArray<long>();
            int d = latent.Shape[1], hw = latent.Shape[2] * latent.Shape[3];
            for (int i = 0; i < quant.Length; i++)
            {
                int b = i / (d * hw), ch = i / hw % d, pix = i % hw;
                Assert.Equal(quant[i], e[c[b * hw + pix] * d + ch], 1e-6f);
            }
        }
    }

    /// <summary>Minimal safetensors reader for F32 and I64 tensors (8-byte header length, JSON header, little-endian data).</summary>
    private static Dictionary<string, Tensor> ReadSafetensors(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        using var json = System.Text.Json.JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        var result = new Dictionary<string, Tensor>();
        foreach (var entry in json.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            string dtype = entry.Value.GetProperty("dtype").GetString()!;
            int[] shape = [.. entry.Value.GetProperty("shape").EnumerateArray().Select(v => v.GetInt32())];
            var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(v => v.GetInt64()).ToArray();
            var data = bytes.AsSpan((int)(8 + headerLength + offsets[0]), (int)(offsets[1] - offsets[0]));
            if (dtype == "F32") result[entry.Name] = Tensor.FromSpan<float>(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data), shape);
            else if (dtype == "I64") result[entry.Name] = Tensor.FromSpan<long>(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(data), shape);
        }
        return result;
    }

    private static void AssertClose(Tensor expected, Tensor actual)
    {
        var (nmse, maxAbs) = Harness.Error(
            expected.ToArray<float>().Select(v => (double)v).ToArray(), actual.ToArray<float>().Select(v => (double)v).ToArray());
        Assert.True(nmse <= 1e-10, $"nmse {nmse:E2}, max abs {maxAbs:E2}");
    }
}
