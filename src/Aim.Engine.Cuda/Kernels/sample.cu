// SampleTokens (IKernels.Sample.cs): one decode step's CFG mix, temperature, top-k, top-p and multinomial draw for
// every image, plus the decode-state update, with nothing read back to the host. The host algorithm it restates is
// Reference/TokenSampler.cs; the uniforms are Philox.UniformDouble (Random/Philox.cs), bit for bit.
//
// One block per image (blockDim.x a multiple of 32, up to 1024). At batch 1 the kernel is one block on one SM, so
// its time is the chain of block-wide phases; each phase ends in one __syncthreads (counts below), block results are
// combined by every warp from per-phase slot arrays rather than broadcast by a second barrier. Pass 1 computes
// guided[i] from the two logits rows (two loads and three float32 operations, with the *_rn intrinsics so that NVRTC
// cannot contract them into an FMA; the temperature division is a double division) and, where the host found room
// (cache: V floats of dynamic shared memory after the tile, 64 KiB at V 16384), keeps it there for the later passes,
// which are bound by their loads' latency on one SM; without the room every pass recomputes it from the rows.
//  1. One pass: max of the guided row, a NaN flag, the number of -inf entries and, with top-k, the histogram of the
//     keys' top 8-bit digit (after one barrier that zeroes the four histograms). A row that is all -inf or holds a
//     NaN (where the host kernels throw) samples token 0.
//  2. Top-k (0 < k < V): radix select of the k-th largest of the order-preserving uint32 keys of the floats (-0 is
//     read as +0): four 8-bit digits, the first counted in pass 1, then three passes of shared-memory histograms
//     (integer atomics: deterministic). Every warp picks the digit from the finished histogram itself. An entry is
//     kept when its key is >= the k-th key (ties at the k-th value are kept, as on the host); their number is
//     k - (rank left in the last digit) + (the last digit's count), so no counting pass.
//  3. Top-p (p < 1): the m kept entries that are not -inf are gathered as 64-bit keys (value key << 32 | index) and
//     sorted ascending by a bitonic sort. Stages whose pairs are < 128 apart run inside a warp on keys in registers
//     (a warp owns 128 consecutive keys, four a lane: j = 64, 32 within a lane, j < 32 by __shfl_xor_sync), one
//     barrier per run of such stages; stages >= 128 apart go through memory, one barrier each. When m (rounded up to
//     a power of two) fits the shared tile (tileCap keys, at most 4096 = 32 KiB) the sort runs in shared memory;
//     otherwise in this image's slice of a global scratch buffer the host allocates when V exceeds the tile (stages
//     with a stride >= tileCap in global memory, the rest tile by tile in shared memory). Then thread t takes the
//     sorted entries [t c, (t + 1) c), c = ceil(m / blockDim): the sum of its masses e^(x - max) in double, one
//     block scan (the total comes with it), and it counts its entries j < m - 1 whose cumulative mass / total is
//     <= 1 - p; the block sum of the counts is the cut: an entry stays when its 64-bit key is >= the key there.
//  4. Draw, one barrier: warp w owns the entries [w s, (w + 1) s), s = 32 ceil(V / blockDim), and sums their masses
//     (coalesced rows of 32); every thread then adds the warp sums in warp order (total, and each warp's start) and
//     target = u * total. The token lies in the last warp with positive mass whose start is <= target; there lane l
//     sums the entries [l s/32, (l + 1) s/32) in index order, a warp scan made monotone by a running max gives each
//     lane's start, and the last lane with positive mass whose start is <= target walks its entries in index order:
//     the last entry with positive mass whose running sum before it is <= target, i.e. the first whose running sum
//     exceeds target, else the last with positive mass, as the host does. That lane writes tokens[b] =
//     tokens[B + b], history[b, s], steps[b] = steps[B + b] = s + 1 and positions (thread 0 when the row is bad).
//
// Barriers at the decode setting (V 16384, 1024 threads, top-k 600, top-p 0.98, ~600 survivors: a 1024-key sort):
// 19 = 1 (zero) + 1 (pass 1) + 3 (digits 2-4) + 1 (gather) + 10 (sort) + 2 (top-p scan, count) + 1 (draw). The
// version before session 8 took 91 to 166 (about 128 on average): 4 (max, NaN) + 12 (three per digit) + 66 (count
// m 2, gather 2, sort 55, total 2, one scan tile 3, count 2) + 4 (draw total and last) + 5 for each 1024-entry tile
// scanned until the hit (1 to 16); and 8 to 9 passes over the row against 6 now.
//
// Against the host: the same float32 guided values and the same uniforms bit for bit; the double sums are taken in
// a different order (per-thread and per-warp sums, trees, scans and a running max instead of one running sum; the
// top-p cumulative mass is divided by the total once rather than summed as mass / total) and CUDA's exp may differ
// from the host's in the last bit, so a token can differ only when u * total or the top-p cumulative mass falls
// within a few ulps of a boundary; ties between equal logits in the top-p sort are broken by the lower index, as
// the host's key sort does. A step outside [0, T) (where the host kernels throw) writes token 0 and position 0 for
// that image and leaves its step and history unchanged. Deterministic: the same inputs give the same tokens on
// every run.
#include "common.cuh"

#define SAMPLE_FULL_MASK 0xffffffffu
#define SAMPLE_NEG_INF __int_as_float(0xff800000)
#ifndef SAMPLE_PASS1_LOADS
#define SAMPLE_PASS1_LOADS 4 // entries a thread loads at once in pass 1 (AIM_NVRTC_DEFINES -DSAMPLE_PASS1_LOADS=1 for A/B)
#endif

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

// ---------------------------------------------------------------- warp and block collectives
// Fixed combining order for a given blockDim.x (deterministic). Every block-wide step below costs one __syncthreads:
// each warp reduces or scans its own values with shuffles, lane 0 (or 31) writes the warp's result to a slot array
// used by that step only (so no barrier is needed before the write), and after the barrier every warp reads all the
// slots and combines them itself (the same combination in every warp), so no second barrier broadcasts a result.

template <typename T> __device__ __forceinline__ T warp_sum(T v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(SAMPLE_FULL_MASK, v, o);
    return v;
}

// Sum over the block of one int per thread (one barrier; slots: 32 ints for this call only).
__device__ __forceinline__ int block_sum(int v, int* slots)
{
    int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0) slots[threadIdx.x >> 5] = v;
    __syncthreads();
    return warp_sum(lane < warps ? slots[lane] : 0);
}

// Exclusive prefix sum over the block in thread order (one barrier; slots: 32 doubles for this call only); *total
// receives the block's sum in every thread.
__device__ __forceinline__ double block_exclusive_scan(double v, double* slots, double* total)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    double incl = v;
    for (int o = 1; o < 32; o <<= 1)
    {
        double n = __shfl_up_sync(SAMPLE_FULL_MASK, incl, o);
        if (lane >= o) incl += n;
    }
    double excl = __shfl_up_sync(SAMPLE_FULL_MASK, incl, 1);
    if (lane == 0) excl = 0.0;
    if (lane == 31) slots[warp] = incl;
    __syncthreads();
    double w = lane < warps ? slots[lane] : 0.0;
    for (int o = 1; o < 32; o <<= 1)
    {
        double n = __shfl_up_sync(SAMPLE_FULL_MASK, w, o);
        if (lane >= o) w += n;
    }
    *total = __shfl_sync(SAMPLE_FULL_MASK, w, 31);
    double before = __shfl_sync(SAMPLE_FULL_MASK, w, (warp + 31) & 31);
    return (warp > 0 ? before : 0.0) + excl;
}

// Radix select, one digit: h holds the counts of the candidates by 8-bit digit; finds the digit that holds the
// remaining-th largest candidate, sets remaining to its rank among that digit's candidates and count to their number.
// Every warp computes it from the same counts (no barrier); lane l owns bins 255 - 8l down to 248 - 8l.
__device__ __forceinline__ unsigned int select_digit(const int* h, int& remaining, int& count)
{
    int lane = threadIdx.x & 31, c[8], sum = 0;
#pragma unroll
    for (int q = 0; q < 8; q++)
    {
        c[q] = h[255 - 8 * lane - q];
        sum += c[q];
    }
    int incl = sum;
    for (int o = 1; o < 32; o <<= 1)
    {
        int n = __shfl_up_sync(SAMPLE_FULL_MASK, incl, o);
        if (lane >= o) incl += n;
    }
    int excl = incl - sum;
    unsigned int here = __ballot_sync(SAMPLE_FULL_MASK, excl < remaining && remaining <= incl);
    int src = __ffs(here) - 1, bin = 0, rank = 0, inBin = 0, acc = excl;
#pragma unroll
    for (int q = 0; q < 8; q++)
        if (inBin == 0)
        {
            if (acc + c[q] >= remaining)
            {
                bin = 255 - 8 * lane - q;
                rank = remaining - acc;
                inBin = c[q];
            }
            acc += c[q];
        }
    remaining = __shfl_sync(SAMPLE_FULL_MASK, rank, src);
    count = __shfl_sync(SAMPLE_FULL_MASK, inBin, src);
    return (unsigned int)__shfl_sync(SAMPLE_FULL_MASK, bin, src);
}

// ---------------------------------------------------------------- bitonic sort
// Stages (k, j): pairs (i, i + j) with i's bit j clear, ascending where the global index (base + i) has bit k clear.
// Stages with j < SAMPLE_WARP_SPAN run inside a warp on keys held in registers: a warp owns SAMPLE_WARP_SPAN = 128
// consecutive keys, lane l the keys l, l + 32, l + 64 and l + 96 of them; j = 64 and 32 pair a lane's own keys and
// j < 32 pairs lanes through __shfl_xor_sync; one barrier after each such run of stages. Stages with j >= 128 pair
// keys of different warps and go through memory, one barrier each.

#define SAMPLE_WARP_SPAN 128

__device__ __forceinline__ void compare_exchange(u64& lo, u64& hi, bool up)
{
    u64 a = lo, b = hi;
    bool swap = (a > b) == up;
    lo = swap ? b : a;
    hi = swap ? a : b;
}

// One stage (k, j >= SAMPLE_WARP_SPAN) through memory over count keys at a (element 0 has global index base).
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

// Stages (k, j) for k = kLo, 2 kLo .. kHi and, for each k, j = min(k, SAMPLE_WARP_SPAN) / 2 down to 1, on count keys
// at a (a power of two; element 0 has global index base), in registers; then one barrier. Lanes past count (count <
// 128) hold padding that only ever pairs with padding.
__device__ void bitonic_warp_stages(u64* a, int base, int count, int kLo, int kHi)
{
    int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    for (int seg = threadIdx.x >> 5; seg * SAMPLE_WARP_SPAN < count; seg += warps)
    {
        int first = seg * SAMPLE_WARP_SPAN + lane;
        u64 x[4];
#pragma unroll
        for (int r = 0; r < 4; r++) x[r] = first + 32 * r < count ? a[first + 32 * r] : ~0ull;
        for (int k = kLo; k <= kHi; k <<= 1)
        {
            bool up[4];
#pragma unroll
            for (int r = 0; r < 4; r++) up[r] = ((base + first + 32 * r) & k) == 0;
            if (k >= 128)
            {
                compare_exchange(x[0], x[2], up[0]);
                compare_exchange(x[1], x[3], up[1]);
            }
            if (k >= 64)
            {
                compare_exchange(x[0], x[1], up[0]);
                compare_exchange(x[2], x[3], up[2]);
            }
            for (int j = (k < 32 ? k : 32) >> 1; j > 0; j >>= 1)
            {
                bool lower = (lane & j) == 0;
#pragma unroll
                for (int r = 0; r < 4; r++)
                {
                    u64 y = __shfl_xor_sync(SAMPLE_FULL_MASK, x[r], j);
                    x[r] = (lower == up[r]) == (x[r] < y) ? x[r] : y;
                }
            }
        }
#pragma unroll
        for (int r = 0; r < 4; r++)
            if (first + 32 * r < count) a[first + 32 * r] = x[r];
    }
    __syncthreads();
}

// The stages of k (j = jTop down to 1) on count keys at a.
__device__ __forceinline__ void bitonic_merge(u64* a, int base, int count, int k, int jTop)
{
    for (int j = jTop; j >= SAMPLE_WARP_SPAN; j >>= 1) bitonic_stage(a, base, count, k, j);
    bitonic_warp_stages(a, base, count, k, k);
}

// Every stage of k = 2 .. count on count keys at a (a bitonic sort when base = 0).
__device__ __forceinline__ void bitonic_tile(u64* a, int base, int count)
{
    bitonic_warp_stages(a, base, count, 2, count < SAMPLE_WARP_SPAN ? count : SAMPLE_WARP_SPAN);
    for (int k = 2 * SAMPLE_WARP_SPAN; k <= count; k <<= 1) bitonic_merge(a, base, count, k, k >> 1);
}

// Sorts n keys ascending (n a power of two). n <= tileCap: data is the shared tile itself. Otherwise data is global
// memory of this block: stages with stride >= tileCap run there, the others on one shared tile at a time (a pair
// (i, i + j) with j < tileCap never leaves its aligned tile). Not inlined: inlined, the kernel needed 64 registers and
// spilled 4 bytes (NVRTC 11.8, sm_90); called, it takes 63 and spills nothing.
__device__ __noinline__ void bitonic_sort(u64* data, int n, u64* tile, int tileCap)
{
    if (n <= tileCap)
    {
        bitonic_tile(data, 0, n);
        return;
    }
    for (int k = tileCap; k <= n; k <<= 1)
    {
        for (int j = k >> 1; j >= tileCap; j >>= 1) bitonic_stage(data, 0, n, k, j);
        for (int base = 0; base < n; base += tileCap)
        {
            for (int q = threadIdx.x; q < tileCap; q += blockDim.x) tile[q] = data[base + q];
            __syncthreads();
            if (k == tileCap) bitonic_tile(tile, base, tileCap);
            else bitonic_merge(tile, base, tileCap, k, tileCap >> 1);
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
// when every top-p sort fits the shared tile of tileCap keys (dynamic shared memory, tileCap * 8 bytes); cache: the
// guided row is kept in v floats of dynamic shared memory after the tile.
extern "C" __global__ void __launch_bounds__(1024) sample_tokens(
    const float* logits, i64* steps, i64* tokens, i64* positions, i64* history,
    int images, int v, int t, float cfg, double temperature, int topK, double topP,
    u64 seed, u64 counterBase, int positionShift, int tileCap, u64* scratch, i64 scratchStride, int cache)
{
    AIM_PDL_PROLOGUE();
    extern __shared__ u64 tile[];
    __shared__ int hist[4][256];
    __shared__ float maxSlots[32];
    __shared__ int nanSlots[32], infSlots[32], gathered;
    __shared__ double cumSlots[32];
    __shared__ int cutSlots[32];
    __shared__ double drawSlots[32];

    int b = blockIdx.x;
    if (b >= images) return;
    int tid = threadIdx.x, bd = blockDim.x, lane = tid & 31, warp = tid >> 5, warps = bd >> 5;
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
    bool scaled = temperature != 1.0, radix = topK > 0 && topK < v;
    float* guidedRow = cache ? reinterpret_cast<float*>(tile + tileCap) : nullptr; // written in pass 1
    // guided[i] after pass 1's barrier: from the shared copy, or recomputed.
    auto guided = [&](int i) { return guidedRow ? guidedRow[i] : guided_at(c, u, i, cfg, temperature, scaled); };

    // 1. max, NaN flag, number of -inf entries, and (top-k) the histogram of the keys' top digit.
    for (int j = tid; j < 4 * 256; j += bd) hist[j >> 8][j & 255] = 0;
    if (tid == 0) gathered = 0;
    __syncthreads();
    float mx = SAMPLE_NEG_INF;
    int nan = 0, ninf = 0;
    // SAMPLE_PASS1_LOADS entries a thread at a time (i, i + bd, ...): their logits loads all in flight before the first
    // is used, since this pass, the only one that reads the rows when the guided row is cached, is bound by their latency.
    for (int i0 = tid; i0 < v; i0 += SAMPLE_PASS1_LOADS * bd)
    {
        float gs[SAMPLE_PASS1_LOADS];
#pragma unroll
        for (int q = 0; q < SAMPLE_PASS1_LOADS; q++)
            gs[q] = i0 + q * bd < v ? guided_at(c, u, i0 + q * bd, cfg, temperature, scaled) : 0.0f;
#pragma unroll
        for (int q = 0; q < SAMPLE_PASS1_LOADS; q++)
        {
            const int i = i0 + q * bd;
            if (i >= v) break;
            const float g = gs[q];
            if (guidedRow) guidedRow[i] = g;
            if (g != g) nan = 1;
            else
            {
                mx = fmaxf(mx, g);
                if (g == SAMPLE_NEG_INF) ninf++;
            }
            if (radix) atomicAdd(&hist[0][float_key(g) >> 24], 1);
        }
    }
    for (int o = 16; o > 0; o >>= 1)
    {
        mx = fmaxf(mx, __shfl_xor_sync(SAMPLE_FULL_MASK, mx, o));
        nan |= __shfl_xor_sync(SAMPLE_FULL_MASK, nan, o);
    }
    ninf = warp_sum(ninf);
    if (lane == 0)
    {
        maxSlots[warp] = mx;
        nanSlots[warp] = nan;
        infSlots[warp] = ninf;
    }
    __syncthreads();
    mx = lane < warps ? maxSlots[lane] : SAMPLE_NEG_INF;
    nan = lane < warps ? nanSlots[lane] : 0;
    ninf = warp_sum(lane < warps ? infSlots[lane] : 0);
    for (int o = 16; o > 0; o >>= 1)
    {
        mx = fmaxf(mx, __shfl_xor_sync(SAMPLE_FULL_MASK, mx, o));
        nan |= __shfl_xor_sync(SAMPLE_FULL_MASK, nan, o);
    }
    i64 token = 0;
    int writer = 0; // the thread that writes this image's token and state

    if (nan == 0 && mx != SAMPLE_NEG_INF)
    {
        // 2. top-k: kthKey = key of the k-th largest (0 keeps everything: every non-NaN key is above it); kept =
        // the number of entries with a key >= kthKey.
        unsigned int kthKey = 0u;
        int kept = v;
        if (radix)
        {
            int remaining = topK, inBin = 0;
            unsigned int prefix = select_digit(hist[0], remaining, inBin) << 24, mask = 0xff000000u;
            for (int pass = 1; pass < 4; pass++)
            {
                int shift = 24 - 8 * pass;
                for (int i = tid; i < v; i += bd)
                {
                    unsigned int key = float_key(guided(i));
                    if ((key & mask) == prefix) atomicAdd(&hist[pass][(key >> shift) & 255u], 1);
                }
                __syncthreads();
                prefix |= select_digit(hist[pass], remaining, inBin) << shift;
                mask |= 255u << shift;
            }
            kthKey = prefix;
            kept = topK - remaining + inBin; // keys above the k-th, plus the keys equal to it
        }

        // 3. top-p: cutKey = 64-bit key of the smallest kept entry (0 keeps everything)
        u64 cutKey = 0ull;
        if (topP < 1.0)
        {
            // the kept entries that are not -inf (-inf is kept only when the k-th value is -inf)
            int m = kept - (!radix || kthKey == float_key(SAMPLE_NEG_INF) ? ninf : 0);
            if (m > 1)
            {
                int n = 1;
                while (n < m) n <<= 1;
                u64* keys = n <= tileCap ? tile : scratch + (i64)b * scratchStride;
                for (int i = tid; i < v; i += bd)
                {
                    float g = guided(i);
                    if (g != SAMPLE_NEG_INF && float_key(g) >= kthKey) keys[atomicAdd(&gathered, 1)] = entry_key(g, i);
                }
                for (int j = m + tid; j < n; j += bd) keys[j] = ~0ull; // padding sorts last
                __syncthreads();
                bitonic_sort(keys, n, tile, tileCap);
                // thread tid owns the sorted entries [lo, hi); masses e^(x - max) (the largest sorted value is mx)
                int per = (m + bd - 1) / bd, lo = min(tid * per, m), hi = min(lo + per, m);
                double top = (double)mx, own = 0.0;
                for (int j = lo; j < hi; j++) own += exp((double)key_float((unsigned int)(keys[j] >> 32)) - top);
                double total, acc = block_exclusive_scan(own, cumSlots, &total);
                double threshold = 1.0 - topP;
                int removed = 0;
                for (int j = lo; j < hi; j++)
                {
                    acc += hi - lo == 1 ? own : exp((double)key_float((unsigned int)(keys[j] >> 32)) - top);
                    if (j < m - 1 && acc / total <= threshold) removed++;
                }
                removed = block_sum(removed, cutSlots);
                cutKey = keys[removed];
            }
        }

        // 4. draw (the header comment): the warp that holds target, then its lane, then that lane's entries.
        double top = (double)mx, uniform = philox_uniform_double(seed, counterBase, (u64)s * (u64)images + (u64)b);
        int per = (v + bd - 1) / bd, span = 32 * per;
        double own = 0.0;
        for (int r = 0; r < per; r++)
        {
            int i = warp * span + 32 * r + lane;
            if (i < v)
            {
                float g = guided(i);
                if (float_key(g) >= kthKey && entry_key(g, i) >= cutKey) own += exp((double)g - top);
            }
        }
        own = warp_sum(own);
        if (lane == 0) drawSlots[warp] = own;
        __syncthreads();
        double total = 0.0, start = 0.0;
        for (int w = 0; w < warps; w++)
        {
            double x = drawSlots[w];
            if (w < lane) start += x;
            total += x;
        }
        double target = __dmul_rn(uniform, total);
        unsigned int claim = __ballot_sync(SAMPLE_FULL_MASK, lane < warps && drawSlots[lane < warps ? lane : 0] > 0.0 && start <= target);
        int owner = claim != 0u ? 31 - __clz(claim) : -1;
        writer = owner < 0 ? 0 : -1; // no warp with positive mass (not expected): thread 0 writes token 0
        if (warp == owner)
        {
            double from = __shfl_sync(SAMPLE_FULL_MASK, start, owner);
            int first = owner * span + lane * per, end = min(first + per, v);
            double sub = 0.0;
            for (int i = first; i < end; i++)
            {
                float g = guided(i);
                if (float_key(g) >= kthKey && entry_key(g, i) >= cutKey) sub += exp((double)g - top);
            }
            double incl = sub;
            for (int o = 1; o < 32; o <<= 1)
            {
                double n = __shfl_up_sync(SAMPLE_FULL_MASK, incl, o);
                if (lane >= o) incl += n;
            }
            for (int o = 1; o < 32; o <<= 1)
            {
                double n = __shfl_up_sync(SAMPLE_FULL_MASK, incl, o);
                if (lane >= o) incl = fmax(incl, n);
            }
            double before = __shfl_up_sync(SAMPLE_FULL_MASK, incl, 1);
            double acc = from + (lane > 0 ? before : 0.0);
            unsigned int lanes = __ballot_sync(SAMPLE_FULL_MASK, sub > 0.0 && acc <= target);
            if (lanes != 0u && lane == 31 - __clz(lanes))
            {
                for (int i = first; i < end; i++)
                {
                    float g = guided(i);
                    double p = float_key(g) >= kthKey && entry_key(g, i) >= cutKey ? exp((double)g - top) : 0.0;
                    if (p > 0.0)
                    {
                        if (!(acc <= target)) break;
                        token = i;
                        acc += p;
                    }
                }
                writer = tid;
            }
        }
    }

    if (tid == writer)
    {
        tokens[b] = tokens[images + b] = token;
        history[(i64)b * t + s] = token;
        steps[b] = steps[images + b] = s + 1;
        positions[b] = positions[images + b] = s + 1 - positionShift;
    }
}
