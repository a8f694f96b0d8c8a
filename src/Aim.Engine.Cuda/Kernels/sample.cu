// SampleTokens (IKernels.Sample.cs): one decode step's CFG mix, temperature, top-k, top-p and multinomial draw for
// every image, plus the decode-state update, with nothing read back to the host. The host algorithm it restates is
// Reference/TokenSampler.cs; the uniforms are Philox.UniformDouble (Random/Philox.cs), bit for bit.
//
// One block per image (blockDim.x a multiple of 32, up to 1024). The guided row is never stored: every pass over
// the vocabulary recomputes guided[i] from the two logits rows (two loads and three float32 operations, with the
// *_rn intrinsics so that NVRTC cannot contract them into an FMA; the temperature division is a double division).
//  1. Block max of the guided row and a NaN flag. A row that is all -inf or holds a NaN (where the host kernels
//     throw) samples token 0.
//  2. Top-k (0 < k < V): radix select of the k-th largest of the order-preserving uint32 keys of the floats (-0 is
//     read as +0), four passes of 8-bit histograms in shared memory (integer atomics: deterministic). An entry is
//     kept when its key is >= the k-th key, i.e. ties at the k-th value are kept, as on the host.
//  3. Top-p (p < 1): the m kept entries that are not -inf are gathered as 64-bit keys (value key << 32 | index) and
//     sorted ascending by a bitonic sort. When m (rounded up to a power of two) fits the shared tile (tileCap keys,
//     at most 4096 = 32 KiB) the sort runs in shared memory; otherwise in this image's slice of a global scratch
//     buffer the host allocates when V exceeds the tile (stages with a stride >= tileCap in global memory, the rest
//     tile by tile in shared memory). Masses e^(x - max) in double, their total (block reduction), then a block scan
//     of mass/total in sorted order: the sorted entries j < m - 1 with cumulative mass <= 1 - p are removed (a
//     prefix), i.e. an entry stays when its 64-bit key is >= the key at the cut.
//  4. Draw: total of e^(x - max) over the kept entries (block reduction, double) and target = u * total; then a
//     block-wide inclusive scan in vocabulary order, tile by tile, stopping at the first index with positive mass
//     whose running sum exceeds the target; else the last index with positive mass, as the host does.
// Thread 0 then writes tokens[b] = tokens[B + b], history[b, s], steps[b] = steps[B + b] = s + 1 and positions.
//
// Against the host: the same float32 guided values and the same uniforms bit for bit; the double sums are taken in
// a different order (trees and scans instead of one running sum) and CUDA's exp may differ from the host's in the
// last bit, so a token can differ only when u * total or the top-p cumulative mass falls within a few ulps of a
// boundary; ties between equal logits in the top-p sort are broken by the lower index (the host's sort is
// unstable). A step outside [0, T) (where the host kernels throw) writes token 0 and position 0 for that image
// and leaves its step and history unchanged. Deterministic: the same inputs give the same tokens on every run.
#include "common.cuh"

#define SAMPLE_FULL_MASK 0xffffffffu
#define SAMPLE_NEG_INF __int_as_float(0xff800000)
#define SAMPLE_INT_MAX 0x7fffffff

// ---------------------------------------------------------------- Philox4x32-10 (Random/Philox.cs)

// Ten rounds on the counter (counterLow, 0) with the 64-bit key; the four output words.
__device__ __forceinline__ void philox_block(u64 counterLow, u64 key, unsigned int out[4])
{
    unsigned int c0 = (unsigned int)counterLow, c1 = (unsigned int)(counterLow >> 32), c2 = 0u, c3 = 0u;
    unsigned int k0 = (unsigned int)key, k1 = (unsigned int)(key >> 32);
    for (int r = 0; r < 10; r++)
    {
        unsigned int hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        unsigned int hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        unsigned int n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

// Philox.UniformDouble: the (index+1)-th Rng.NextDouble of new Rng(seed, counterBase).
__device__ __forceinline__ double philox_uniform_double(u64 seed, u64 counterBase, u64 index)
{
    unsigned int w[4];
    philox_block(counterBase + index / 2, seed, w);
    u64 hi = (index & 1) ? w[2] : w[0], lo = (index & 1) ? w[3] : w[1];
    return (double)((hi << 21) ^ (lo >> 11)) * (1.0 / 9007199254740992.0);
}

// ---------------------------------------------------------------- keys

// Order-preserving uint32 key of a float (NaN aside): larger float, larger key; -0 and +0 get the same key.
__device__ __forceinline__ unsigned int float_key(float x)
{
    unsigned int u = __float_as_uint(x);
    if ((u & 0x7fffffffu) == 0u) u = 0u;
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ float key_float(unsigned int k)
{
    return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

// ---------------------------------------------------------------- block reductions and scan
// Fixed combining order for a given blockDim.x (deterministic). slots: 32 doubles of shared memory, reused by every
// call: the leading __syncthreads keeps a call from overwriting slots another warp still reads.

struct SumOp
{
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp
{
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a > b ? a : b; }
};
struct MinOp
{
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a < b ? a : b; }
};

template <typename T, typename Op>
__device__ __forceinline__ T block_reduce(T v, Op op, T identity, double* slots)
{
    T* s = (T*)slots;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(SAMPLE_FULL_MASK, v, o));
    __syncthreads();
    if (lane == 0) s[warp] = v;
    __syncthreads();
    v = lane < warps ? s[lane] : identity;
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(SAMPLE_FULL_MASK, v, o));
    return v;
}

// Inclusive prefix sum over the block in thread order; *total receives the block's sum (every thread).
__device__ __forceinline__ double block_inclusive_scan(double v, double* slots, double* total)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int o = 1; o < 32; o <<= 1)
    {
        double n = __shfl_up_sync(SAMPLE_FULL_MASK, v, o);
        if (lane >= o) v += n;
    }
    __syncthreads();
    if (lane == 31) slots[warp] = v;
    __syncthreads();
    if (warp == 0)
    {
        double w = lane < warps ? slots[lane] : 0.0;
        for (int o = 1; o < 32; o <<= 1)
        {
            double n = __shfl_up_sync(SAMPLE_FULL_MASK, w, o);
            if (lane >= o) w += n;
        }
        if (lane < warps) slots[lane] = w;
    }
    __syncthreads();
    *total = slots[warps - 1];
    return (warp > 0 ? slots[warp - 1] : 0.0) + v;
}

// ---------------------------------------------------------------- bitonic sort

// One bitonic stage (k, j) over count keys at a, whose element 0 has global index base: pairs (i, i + j) with i's
// bit j clear, ascending where the global index has bit k clear.
__device__ __forceinline__ void bitonic_stage(u64* a, int base, int count, int k, int j)
{
    for (int p = threadIdx.x; p < count / 2; p += blockDim.x)
    {
        int i = ((p & ~(j - 1)) << 1) | (p & (j - 1));
        int l = i + j;
        bool up = ((base + i) & k) == 0;
        u64 x = a[i], y = a[l];
        if ((x > y) == up)
        {
            a[i] = y;
            a[l] = x;
        }
    }
    __syncthreads();
}

// Sorts n keys ascending (n a power of two). n <= tileCap: data is the shared tile itself. Otherwise data is global
// memory of this block: stages with stride >= tileCap run there, the others on one shared tile at a time (a pair
// (i, i + j) with j < tileCap never leaves its aligned tile).
__device__ void bitonic_sort(u64* data, int n, u64* tile, int tileCap)
{
    if (n <= tileCap)
    {
        for (int k = 2; k <= n; k <<= 1)
            for (int j = k >> 1; j > 0; j >>= 1) bitonic_stage(data, 0, n, k, j);
        return;
    }
    for (int k = 2; k <= n; k <<= 1)
    {
        if (k > tileCap)
            for (int j = k >> 1; j >= tileCap; j >>= 1) bitonic_stage(data, 0, n, k, j);
        else if (k < tileCap)
            continue; // the stages of k < tileCap run with k == tileCap's, tile by tile
        for (int base = 0; base < n; base += tileCap)
        {
            for (int q = threadIdx.x; q < tileCap; q += blockDim.x) tile[q] = data[base + q];
            __syncthreads();
            if (k == tileCap)
            {
                for (int kk = 2; kk <= tileCap; kk <<= 1)
                    for (int j = kk >> 1; j > 0; j >>= 1) bitonic_stage(tile, base, tileCap, kk, j);
            }
            else
            {
                for (int j = tileCap >> 1; j > 0; j >>= 1) bitonic_stage(tile, base, tileCap, k, j);
            }
            for (int q = threadIdx.x; q < tileCap; q += blockDim.x) data[base + q] = tile[q];
            __syncthreads();
        }
    }
}

// ---------------------------------------------------------------- the kernel

// guided[i] = u[i] + (c[i] - u[i]) * cfg in float32, one rounding each; then / temperature in double when scaled.
__device__ __forceinline__ float guided_at(const float* c, const float* u, int i, float cfg, double temperature, bool scaled)
{
    float ui = u[i];
    float g = __fadd_rn(ui, __fmul_rn(__fsub_rn(c[i], ui), cfg));
    if (scaled) g = __double2float_rn(__ddiv_rn((double)g, temperature));
    return g;
}

// The 64-bit sort key of entry i with guided value g: (float key << 32) | i.
__device__ __forceinline__ u64 entry_key(float g, int i) { return ((u64)float_key(g) << 32) | (u64)(unsigned int)i; }

// logits (2B, V); steps, tokens, positions (2B); history (B, T); scratch: B slices of scratchStride keys, or null
// when every top-p sort fits the shared tile of tileCap keys (dynamic shared memory, tileCap * 8 bytes).
extern "C" __global__ void __launch_bounds__(1024) sample_tokens(
    const float* logits, i64* steps, i64* tokens, i64* positions, i64* history,
    int images, int v, int t, float cfg, double temperature, int topK, double topP,
    u64 seed, u64 counterBase, int positionShift, int tileCap, u64* scratch, i64 scratchStride)
{
    AIM_PDL_PROLOGUE();
    extern __shared__ u64 tile[];
    __shared__ double slots[32];
    __shared__ int hist[256];
    __shared__ int found[3];

    int b = blockIdx.x;
    if (b >= images) return;
    int tid = threadIdx.x, bd = blockDim.x;
    i64 s = steps[b];
    if (s < 0 || s >= (i64)t)
    {
        if (tid == 0)
        {
            tokens[b] = tokens[images + b] = 0;
            positions[b] = positions[images + b] = 0;
        }
        return;
    }
    const float* c = logits + (i64)b * v;
    const float* u = logits + (i64)(images + b) * v;
    bool scaled = temperature != 1.0;

    // 1. max and NaN
    float mx = SAMPLE_NEG_INF;
    int nan = 0;
    for (int i = tid; i < v; i += bd)
    {
        float g = guided_at(c, u, i, cfg, temperature, scaled);
        if (g != g) nan = 1;
        else mx = fmaxf(mx, g);
    }
    mx = block_reduce(mx, MaxOp(), SAMPLE_NEG_INF, slots);
    nan = block_reduce(nan, MaxOp(), 0, slots);
    bool bad = nan != 0 || mx == SAMPLE_NEG_INF;
    i64 token = 0;

    if (!bad)
    {
        // 2. top-k: kthKey = key of the k-th largest (0 keeps everything: every non-NaN key is above it)
        unsigned int kthKey = 0u;
        if (topK > 0 && topK < v)
        {
            unsigned int prefix = 0u, mask = 0u;
            int remaining = topK;
            for (int shift = 24; shift >= 0; shift -= 8)
            {
                for (int j = tid; j < 256; j += bd) hist[j] = 0;
                __syncthreads();
                for (int i = tid; i < v; i += bd)
                {
                    unsigned int key = float_key(guided_at(c, u, i, cfg, temperature, scaled));
                    if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1);
                }
                __syncthreads();
                if (tid < 32)
                {
                    // lane l owns bins 255 - 8l down to 248 - 8l; counts accumulate from the top bin down.
                    int sum = 0;
                    for (int q = 0; q < 8; q++) sum += hist[255 - 8 * tid - q];
                    int incl = sum;
                    for (int o = 1; o < 32; o <<= 1)
                    {
                        int n = __shfl_up_sync(SAMPLE_FULL_MASK, incl, o);
                        if (tid >= o) incl += n;
                    }
                    int excl = incl - sum;
                    unsigned int here = __ballot_sync(SAMPLE_FULL_MASK, excl < remaining && remaining <= incl);
                    if (tid == __ffs(here) - 1)
                    {
                        int acc = excl;
                        for (int q = 0; q < 8; q++)
                        {
                            int bin = 255 - 8 * tid - q, h = hist[bin];
                            if (acc + h >= remaining)
                            {
                                found[0] = bin;
                                found[1] = remaining - acc;
                                break;
                            }
                            acc += h;
                        }
                    }
                }
                __syncthreads();
                prefix |= (unsigned int)found[0] << shift;
                mask |= 255u << shift;
                remaining = found[1];
            }
            kthKey = prefix;
        }

        // 3. top-p: cutKey = 64-bit key of the smallest kept entry (0 keeps everything)
        u64 cutKey = 0ull;
        if (topP < 1.0)
        {
            int m = 0;
            for (int i = tid; i < v; i += bd)
            {
                float g = guided_at(c, u, i, cfg, temperature, scaled);
                if (g != SAMPLE_NEG_INF && float_key(g) >= kthKey) m++;
            }
            m = block_reduce(m, SumOp(), 0, slots);
            if (m > 1)
            {
                int n = 1;
                while (n < m) n <<= 1;
                u64* keys = n <= tileCap ? tile : scratch + (i64)b * scratchStride;
                if (tid == 0) found[2] = 0;
                __syncthreads();
                for (int i = tid; i < v; i += bd)
                {
                    float g = guided_at(c, u, i, cfg, temperature, scaled);
                    if (g != SAMPLE_NEG_INF && float_key(g) >= kthKey) keys[atomicAdd(&found[2], 1)] = entry_key(g, i);
                }
                for (int j = m + tid; j < n; j += bd) keys[j] = ~0ull; // padding sorts last
                __syncthreads();
                bitonic_sort(keys, n, tile, tileCap);
                double top = (double)key_float((unsigned int)(keys[m - 1] >> 32));
                double total = 0.0;
                for (int j = tid; j < m; j += bd) total += exp((double)key_float((unsigned int)(keys[j] >> 32)) - top);
                total = block_reduce(total, SumOp(), 0.0, slots);
                double threshold = 1.0 - topP, carry = 0.0;
                int removed = 0;
                for (int base = 0; base < m - 1; base += bd)
                {
                    int j = base + tid;
                    double q = j < m - 1 ? exp((double)key_float((unsigned int)(keys[j] >> 32)) - top) / total : 0.0;
                    double tileTotal;
                    double cum = carry + block_inclusive_scan(q, slots, &tileTotal);
                    if (j < m - 1 && cum <= threshold) removed++;
                    carry += tileTotal;
                }
                removed = block_reduce(removed, SumOp(), 0, slots);
                cutKey = keys[removed];
            }
        }

        // 4. draw
        double top = (double)mx, total = 0.0;
        int last = -1;
        for (int i = tid; i < v; i += bd)
        {
            float g = guided_at(c, u, i, cfg, temperature, scaled);
            double p = float_key(g) >= kthKey && entry_key(g, i) >= cutKey ? exp((double)g - top) : 0.0;
            total += p;
            if (!(p <= 0.0)) last = i;
        }
        total = block_reduce(total, SumOp(), 0.0, slots);
        last = block_reduce(last, MaxOp(), -1, slots);
        double target = __dmul_rn(philox_uniform_double(seed, counterBase, (u64)s * (u64)images + (u64)b), total);
        int hit = SAMPLE_INT_MAX;
        double carry = 0.0;
        for (int base = 0; base < v; base += bd)
        {
            int i = base + tid;
            double p = 0.0;
            if (i < v)
            {
                float g = guided_at(c, u, i, cfg, temperature, scaled);
                p = float_key(g) >= kthKey && entry_key(g, i) >= cutKey ? exp((double)g - top) : 0.0;
            }
            double tileTotal;
            double acc = carry + block_inclusive_scan(p, slots, &tileTotal);
            hit = block_reduce(i < v && !(p <= 0.0) && target < acc ? i : SAMPLE_INT_MAX, MinOp(), SAMPLE_INT_MAX, slots);
            if (hit != SAMPLE_INT_MAX) break;
            carry += tileTotal;
        }
        token = hit != SAMPLE_INT_MAX ? hit : (last >= 0 ? last : 0);
    }

    if (tid == 0)
    {
        tokens[b] = tokens[images + b] = token;
        history[(i64)b * t + s] = token;
        steps[b] = steps[images + b] = s + 1;
        positions[b] = positions[images + b] = s + 1 - positionShift;
    }
}
