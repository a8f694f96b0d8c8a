// Holds: the one host copy of AiM's token sampling (spec §6.4): the CFG mix of a conditional and an unconditional
// row, temperature, top-k with ties kept, top-p on the ascending sort with the maximum always kept, and the
// inverse-CDF draw. Used by the SampleTokens kernels (ReferenceKernels.Sample.cs, CpuKernels.Sample.cs) and by the
// host sampler of Aim.Models (Generation/Sampler.cs), so host sampling and the kernel share one code path.
// sample.cu restates the same steps on the device.

namespace Aim.Engine.Kernels.Reference;

/// <summary>
/// Sampling of one token from one row of logits, on the host. The steps and their arithmetic are the contract of
/// <see cref="IKernels.SampleTokens"/>; the CUDA kernel (sample.cu) follows them operation by operation.
/// </summary>
public static class TokenSampler
{
    /// <summary>Work buffers for rows of up to <c>vocab</c> entries (one per thread).</summary>
    public class Scratch(int vocab)
    {
        /// <summary>A sorted copy of the logits (top-k).</summary>
        public float[] Values { get; } = new float[vocab];
        /// <summary>Sort keys (value, index) of the entries top-p ranks.</summary>
        public ulong[] Keys { get; } = new ulong[vocab];
        /// <summary>Unnormalised probabilities (top-p, draw).</summary>
        public double[] Probabilities { get; } = new double[vocab];
    }

    /// <summary>
    /// The classifier-free guidance mix in float32, one rounding per operation as the eager decoder's
    /// <c>Ops.Add(uncond, Ops.Scale(Ops.Sub(cond, uncond), cfg))</c> on the CPU: guided = u + (c − u)·(float)cfg.
    /// </summary>
    public static void Guide(ReadOnlySpan<float> cond, ReadOnlySpan<float> uncond, double cfgScale, Span<float> guided)
    {
        if (cond.Length != guided.Length || uncond.Length != guided.Length)
            throw new ArgumentException($"TokenSampler.Guide: rows of {cond.Length}, {uncond.Length} and {guided.Length} entries");
        float cfg = (float)cfgScale;
        for (int i = 0; i < guided.Length; i++)
        {
            float d = cond[i] - uncond[i];
            float m = d * cfg;
            guided[i] = uncond[i] + m;
        }
    }

    /// <summary>
    /// Temperature (row[i] ← (float)(row[i] / t) in double when t ≠ 1), top-k when 0 &lt; k &lt; V, top-p when p &lt; 1,
    /// then <see cref="Draw"/> with the uniform <paramref name="u"/>. <paramref name="row"/> is modified in place.
    /// </summary>
    public static long SampleRow(Span<float> row, int topK, double topP, double temperature, double u, Scratch scratch)
    {
        if (temperature != 1.0)
            for (int i = 0; i < row.Length; i++) row[i] = (float)(row[i] / temperature);
        if (topK > 0) TopK(row, Math.Min(topK, row.Length), scratch.Values);
        if (topP < 1.0) TopP(row, topP, scratch);
        return Draw(row, scratch.Probabilities, u);
    }

    /// <summary>Sets every logit strictly below the k-th largest to -inf (ties at the k-th value survive).</summary>
    public static void TopK(Span<float> row, int k, Span<float> scratch)
    {
        if (k >= row.Length) return;
        float kth = KthLargest(row, k, scratch);
        for (int i = 0; i < row.Length; i++)
            if (row[i] < kth) row[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// The k-th largest value (1 ≤ k ≤ Length) by radix selection over <see cref="OrderedKey"/>: four passes of 8-bit
    /// digits from the top, each keeping only the entries whose higher digits match, as sample.cu selects on the GPU.
    /// Linear in the row length, where a sort was V·log V (the decode step's top-k runs on a 16384-entry row).
    /// </summary>
    public static float KthLargest(ReadOnlySpan<float> row, int k, Span<float> scratch)
    {
        var keys = System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(scratch[..row.Length]);
        for (int i = 0; i < row.Length; i++) keys[i] = OrderedKey(row[i]);
        Span<int> counts = stackalloc int[256];
        uint prefix = 0, mask = 0;
        int remaining = k, live = row.Length;
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            counts.Clear();
            int kept = 0;
            for (int i = 0; i < live; i++)
            {
                uint key = keys[i];
                if ((key & mask) != prefix) continue;
                keys[kept++] = key;                    // compact the candidates for the next pass
                counts[(int)(key >> shift) & 0xff]++;
            }
            live = kept;
            int digit = 255;
            for (; digit > 0 && counts[digit] < remaining; digit--) remaining -= counts[digit];
            prefix |= (uint)digit << shift;
            mask |= 0xffu << shift;
        }
        return KeyFloat(prefix);
    }

    /// <summary>
    /// Sorts ascending, takes the cumulative softmax, removes entries whose cumulative mass is ≤ 1 − p, keeping the
    /// largest always (spec §6.4). Entries already at -inf carry no mass, so only the others are sorted. Equal values
    /// sort by vocabulary index (a stable sort), so ties are cut the same way on every backend.
    /// </summary>
    public static void TopP(Span<float> row, double p, Scratch scratch)
    {
        int count = 0;
        var keys = scratch.Keys;
        for (int i = 0; i < row.Length; i++)
        {
            if (float.IsNegativeInfinity(row[i])) continue;
            keys[count++] = EntryKey(row[i], i);
        }
        if (count <= 1) return;
        Array.Sort(keys, 0, count);
        double max = KeyValue(keys[count - 1]), total = 0;
        var mass = scratch.Probabilities;
        for (int i = 0; i < count; i++)
        {
            mass[i] = Math.Exp(KeyValue(keys[i]) - max);
            total += mass[i];
        }
        double cum = 0, threshold = 1 - p;
        for (int i = 0; i < count - 1; i++)
        {
            cum += mass[i] / total;
            if (cum <= threshold) row[(int)(uint)keys[i]] = float.NegativeInfinity;
        }
    }

    /// <summary>
    /// The order-preserving unsigned key of a float (NaN aside): a larger value has a larger key; -0 and +0 share one.
    /// sample.cu's float_key.
    /// </summary>
    public static uint OrderedKey(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        if ((u & 0x7fffffffu) == 0) u = 0;
        return (u & 0x80000000u) != 0 ? ~u : u | 0x80000000u;
    }

    /// <summary>The float of an <see cref="OrderedKey"/> (-0 comes back as +0).</summary>
    public static float KeyFloat(uint key)
        => BitConverter.UInt32BitsToSingle((key & 0x80000000u) != 0 ? key & 0x7fffffffu : ~key);

    /// <summary>(value, index) as one 64-bit key that sorts by value, then by index.</summary>
    private static ulong EntryKey(float value, int index) => ((ulong)OrderedKey(value) << 32) | (uint)index;

    private static float KeyValue(ulong key) => KeyFloat((uint)(key >> 32));

    /// <summary>
    /// One multinomial draw from softmax(row) by inverse CDF in vocabulary order, with u uniform in [0, 1): the first
    /// index whose running sum of e^(x − max) exceeds u·Σ e^(x − max), else the last index with positive mass.
    /// Throws <see cref="InvalidOperationException"/> when every logit is -inf or any is NaN.
    /// </summary>
    public static long Draw(ReadOnlySpan<float> row, Span<double> probs, double u)
    {
        double max = double.NegativeInfinity;
        foreach (float x in row) max = Math.Max(max, x);
        if (double.IsNegativeInfinity(max) || double.IsNaN(max)) throw new InvalidOperationException("sampling: every logit is -inf or NaN");
        double total = 0;
        for (int i = 0; i < row.Length; i++)
        {
            probs[i] = Math.Exp(row[i] - max);
            total += probs[i];
        }
        double target = u * total, acc = 0;
        int last = 0;
        for (int i = 0; i < row.Length; i++)
        {
            if (probs[i] <= 0) continue;
            last = i;
            acc += probs[i];
            if (target < acc) return i;
        }
        return last;
    }
}
