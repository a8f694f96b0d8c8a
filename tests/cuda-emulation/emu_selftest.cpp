// Self-test of cuda_emu.hpp: tf32 rounding bit patterns, wmma tf32 16×16×8 and bf16 16×16×16 products through
// load_matrix_sync / mma_sync / store_matrix_sync (every row/col-major combination, padded ldm, accumulator loads
// in both memory layouts) against plain loops, warp shuffles with widths, ballot, block barriers, dynamic shared
// memory poisoning, and that a shuffle naming a returned lane is reported (in a forked child).
// Usage: emu_selftest    exit 1 on any failure.
#include "cuda_emu.hpp"

#include <random>
#include <sys/wait.h>
#include <unistd.h>

using namespace nvcuda;

static int failures = 0;
#define CHECK(cond, ...)                                                                                                 \
    do                                                                                                                   \
    {                                                                                                                    \
        if (!(cond)) { failures++; std::printf("FAIL %s:%d: ", __FILE__, __LINE__); std::printf(__VA_ARGS__); std::printf("\n"); } \
    } while (0)

static unsigned bits(float f) { return __float_as_uint(f); }

static void test_tf32_rounding()
{
    struct { unsigned in, out; } cases[] = {
        {0x3f800000u, 0x3f800000u}, // 1
        {0x3f801000u, 0x3f802000u}, // 1 + 2^-11: a tie, away from zero -> 1 + 2^-10
        {0xbf801000u, 0xbf802000u}, // -(1 + 2^-11) -> -(1 + 2^-10)
        {0x3f800fffu, 0x3f800000u}, // just below the tie -> down
        {0x3f801001u, 0x3f802000u}, // just above -> up
        {0x3f803000u, 0x3f804000u}, // tie with odd kept mantissa -> away (not to even)
        {0x3fffffffu, 0x40000000u}, // carries into the exponent
        {0x7f7fffffu, 0x7f800000u}, // FLT_MAX rounds past the largest tf32 -> +inf
        {0x00001000u, 0x00002000u}, // subnormal tie
        {0x7f800000u, 0x7f800000u}, // inf
        {0x80000000u, 0x80000000u}, // -0
    };
    for (auto c : cases)
    {
        unsigned got = bits(wmma::__float_to_tf32(__uint_as_float(c.in)));
        CHECK(got == c.out, "__float_to_tf32(%08x) = %08x, want %08x", c.in, got, c.out);
    }
    float nan = wmma::__float_to_tf32(__uint_as_float(0x7fc00001u));
    CHECK(nan != nan, "__float_to_tf32(NaN) is not NaN");
    CHECK(bits((float)__float2bfloat16(__uint_as_float(0x3f808000u))) == 0x3f800000u, "bf16 tie to even (down)");
    CHECK(bits((float)__float2bfloat16(__uint_as_float(0x3f818000u))) == 0x3f820000u, "bf16 tie to even (up)");
}

// D = A·B + C for one 16×16×8 tile; A, B converted to tf32 in the fragment (the usual elementwise loop).
template <typename LA, typename LB>
__global__ void tf32_tile(const float* a, int lda, const float* b, int ldb, const float* c, int ldc, int cColMajor, float* d, int ldd, int dColMajor)
{
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, LA> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, LB> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 8, float> fc;
    wmma::load_matrix_sync(fa, a, lda);
    wmma::load_matrix_sync(fb, b, ldb);
    for (int i = 0; i < fa.num_elements; i++) fa.x[i] = wmma::__float_to_tf32(fa.x[i]);
    for (int i = 0; i < fb.num_elements; i++) fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
    wmma::load_matrix_sync(fc, c, ldc, cColMajor ? wmma::mem_col_major : wmma::mem_row_major);
    wmma::mma_sync(fc, fa, fb, fc);
    wmma::store_matrix_sync(d, fc, ldd, dColMajor ? wmma::mem_col_major : wmma::mem_row_major);
}

template <typename LA, typename LB>
__global__ void bf16_tile(const __nv_bfloat16* a, int lda, const __nv_bfloat16* b, int ldb, float* d, int ldd)
{
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, LA> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, LB> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
    wmma::fill_fragment(fc, 0.0f);
    wmma::load_matrix_sync(fa, a, lda);
    wmma::load_matrix_sync(fb, b, ldb);
    wmma::mma_sync(fc, fa, fb, fc);
    wmma::store_matrix_sync(d, fc, ldd, wmma::mem_row_major);
}

// Logical (rows × cols) matrix m stored row- or col-major with leading dimension ld.
template <typename T> static void place(std::vector<T>& mem, const std::vector<float>& m, int rows, int cols, bool colMajor, int ld)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) mem[colMajor ? i + (size_t)j * ld : (size_t)i * ld + j] = T(m[i * cols + j]);
}

template <typename LA, typename LB> static void test_tf32(std::mt19937& rng, bool cCol, bool dCol)
{
    const bool aCol = std::is_same_v<LA, wmma::col_major>, bCol = std::is_same_v<LB, wmma::col_major>;
    std::normal_distribution<float> nd;
    std::vector<float> A(16 * 8), B(8 * 16), C(16 * 16);
    for (auto& v : A) v = nd(rng);
    for (auto& v : B) v = nd(rng);
    for (auto& v : C) v = nd(rng);
    const int lda = aCol ? 20 : 12, ldb = bCol ? 12 : 20, ldc = 20, ldd = 24; // padded, multiples of 4 floats
    alignas(32) static float am[20 * 16], bm[20 * 16], cm[20 * 16], dm[24 * 16];
    std::vector<float> av(std::size(am), NAN), bv(std::size(bm), NAN), cv(std::size(cm), NAN);
    place(av, A, 16, 8, aCol, lda);
    place(bv, B, 8, 16, bCol, ldb);
    place(cv, C, 16, 16, cCol, ldc);
    std::copy(av.begin(), av.end(), am);
    std::copy(bv.begin(), bv.end(), bm);
    std::copy(cv.begin(), cv.end(), cm);
    std::fill(std::begin(dm), std::end(dm), NAN);
    unsigned long long unroundedBefore = emu::stats().tf32_unrounded;
    emu::launch(dim3(1), dim3(32), 0, tf32_tile<LA, LB>, (const float*)am, lda, (const float*)bm, ldb, (const float*)cm, ldc, cCol ? 1 : 0, dm, ldd, dCol ? 1 : 0);
    CHECK(emu::stats().tf32_unrounded == unroundedBefore, "tf32 operands counted as unrounded after __float_to_tf32");
    double worst = 0;
    int mismatched = 0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
        {
            double exact = C[i * 16 + j];
            float seq = C[i * 16 + j];
            for (int k = 0; k < 8; k++)
            {
                float x = wmma::__float_to_tf32(A[i * 8 + k]), y = wmma::__float_to_tf32(B[k * 16 + j]);
                exact += (double)x * y;
                seq = std::fmaf(x, y, seq);
            }
            float got = dm[dCol ? i + j * ldd : i * ldd + j];
            mismatched += bits(got) != bits(seq);
            worst = std::max(worst, std::fabs(got - exact) / (1.0 + std::fabs(exact)));
        }
    CHECK(mismatched == 0 && worst < 1e-6, "tf32 A %s B %s C %s D %s: %d elements differ from the fmaf loop, worst rel err %.2e",
          aCol ? "col" : "row", bCol ? "col" : "row", cCol ? "col" : "row", dCol ? "col" : "row", mismatched, worst);
    // The padding between rows (or columns) of D stays untouched.
    int touched = 0;
    for (int r = 0; r < 16; r++)
        for (int k = 16; k < ldd; k++) touched += !std::isnan(dm[r * ldd + k]);
    CHECK(touched == 0, "store_matrix_sync wrote outside the tile");
}

template <typename LA, typename LB> static void test_bf16(std::mt19937& rng)
{
    const bool aCol = std::is_same_v<LA, wmma::col_major>, bCol = std::is_same_v<LB, wmma::col_major>;
    std::normal_distribution<float> nd;
    std::vector<float> A(256), B(256);
    for (auto& v : A) v = (float)__float2bfloat16(nd(rng));
    for (auto& v : B) v = (float)__float2bfloat16(nd(rng));
    const int ld = 24;
    alignas(32) static __nv_bfloat16 am[24 * 16], bm[24 * 16];
    alignas(32) static float dm[16 * 16];
    std::vector<__nv_bfloat16> av(24 * 16, __float2bfloat16(0.f)), bv(24 * 16, __float2bfloat16(0.f));
    place(av, A, 16, 16, aCol, ld);
    place(bv, B, 16, 16, bCol, ld);
    std::copy(av.begin(), av.end(), am);
    std::copy(bv.begin(), bv.end(), bm);
    emu::launch(dim3(1), dim3(32), 0, bf16_tile<LA, LB>, (const __nv_bfloat16*)am, ld, (const __nv_bfloat16*)bm, ld, dm, 16);
    double worst = 0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
        {
            double exact = 0;
            for (int k = 0; k < 16; k++) exact += (double)A[i * 16 + k] * B[k * 16 + j];
            worst = std::max(worst, std::fabs(dm[i * 16 + j] - exact) / (1.0 + std::fabs(exact)));
        }
    CHECK(worst < 1e-6, "bf16 A %s B %s: worst rel err %.2e", aCol ? "col" : "row", bCol ? "col" : "row", worst);
}

// 64 threads: out[t*8 + ...] = xor / down / up / idx shuffles with width 16 and 32, a ballot, a block sum.
__global__ void shuffles(int* out)
{
    __shared__ int total;
    int t = threadIdx.x, v = 100 + t;
    if (t == 0) total = 0;
    __syncthreads();
    out[t * 8 + 0] = __shfl_xor_sync(0xffffffffu, v, 5);
    out[t * 8 + 1] = __shfl_down_sync(0xffffffffu, v, 3, 16);
    out[t * 8 + 2] = __shfl_up_sync(0xffffffffu, v, 2);
    out[t * 8 + 3] = __shfl_sync(0xffffffffu, v, 37, 16);
    out[t * 8 + 4] = (int)__ballot_sync(0xffffffffu, t % 3 == 0);
    out[t * 8 + 5] = __shfl_xor_sync(0xffffffffu, v, 16, 16);
    atomicAdd(&total, v);
    __syncthreads();
    out[t * 8 + 6] = total;
    const unsigned char* dyn = emu::dynamic_shared();
    out[t * 8 + 7] = dyn[t];
}

static void test_shuffles()
{
    std::vector<int> out(64 * 8, -1);
    emu::launch(dim3(2), dim3(64), 16, shuffles, out.data());
    int sum = 0;
    for (int t = 0; t < 64; t++) sum += 100 + t;
    for (int t = 0; t < 64; t++)
    {
        int lane = t % 32, warp = t / 32, seg16 = lane & ~15;
        auto val = [&](int l) { return 100 + warp * 32 + l; };
        int want[8] = {
            val(lane ^ 5),
            lane + 3 <= seg16 + 15 ? val(lane + 3) : val(lane),
            lane >= 2 ? val(lane - 2) : val(lane),
            val(seg16 + (37 & 15)),
            0,
            lane < 16 ? val(lane) : val(lane ^ 16), // width 16: a later segment gives the own value, an earlier one is read
            sum,
            0xFF,
        };
        for (int l = 0; l < 32; l++)
            if ((warp * 32 + l) % 3 == 0) want[4] |= 1 << l;
        for (int k = 0; k < 8; k++) CHECK(out[t * 8 + k] == want[k], "shuffles: thread %d item %d = %d, want %d", t, k, out[t * 8 + k], want[k]);
    }
}

__global__ void shuffle_with_returned_lane(float* out)
{
    if (threadIdx.x >= 16) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

// Lanes 0..15 shuffle while lanes 16..31 wait at __syncthreads: a deadlock on hardware.
__global__ void divergent_barrier(float* out)
{
    if (threadIdx.x < 16) out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
    else __syncthreads();
}

// Half the warp in __syncwarp, half in a shuffle: undefined on hardware.
__global__ void mixed_collectives(float* out)
{
    if (threadIdx.x < 16) __syncwarp();
    else out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

// The child must abort (emulation error), not exit normally.
static bool aborts(void (*kernel)(float*))
{
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
    {
        if (!std::freopen("/dev/null", "w", stderr)) _exit(3);
        float out[32];
        emu::launch(dim3(1), dim3(32), 0, kernel, out);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void test_error_reported()
{
    CHECK(aborts(shuffle_with_returned_lane), "a shuffle whose mask names a returned lane was not reported");
    CHECK(aborts(divergent_barrier), "a shuffle against __syncthreads (deadlock) was not reported");
    CHECK(aborts(mixed_collectives), "__syncwarp against a shuffle was not reported");
}

// Forgetting __float_to_tf32 is counted.
__global__ void unconverted_tf32(const float* a, const float* b, float* d)
{
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 8, float> fc;
    wmma::fill_fragment(fc, 0.0f);
    wmma::load_matrix_sync(fa, a, 8);
    wmma::load_matrix_sync(fb, b, 16);
    wmma::mma_sync(fc, fa, fb, fc);
    wmma::store_matrix_sync(d, fc, 16, wmma::mem_row_major);
}

static void test_unconverted_counted()
{
    alignas(32) static float a[128], b[128], d[256];
    for (int i = 0; i < 128; i++) a[i] = b[i] = 1.0f + 0x1.0p-20f * (float)(i + 1); // low mantissa bits set
    unsigned long long before = emu::stats().tf32_unrounded;
    emu::launch(dim3(1), dim3(32), 0, unconverted_tf32, (const float*)a, (const float*)b, d);
    CHECK(emu::stats().tf32_unrounded > before, "unconverted tf32 operands were not counted");
    CHECK(d[0] == 8.0f, "unconverted tf32 operands are not truncated: d[0] = %.9g", d[0]);
}

int main()
{
    std::mt19937 rng(1234);
    test_tf32_rounding();
    for (bool cCol : {false, true})
        for (bool dCol : {false, true})
        {
            test_tf32<wmma::row_major, wmma::row_major>(rng, cCol, dCol);
            test_tf32<wmma::row_major, wmma::col_major>(rng, cCol, dCol);
            test_tf32<wmma::col_major, wmma::row_major>(rng, cCol, dCol);
            test_tf32<wmma::col_major, wmma::col_major>(rng, cCol, dCol);
        }
    test_bf16<wmma::row_major, wmma::row_major>(rng);
    test_bf16<wmma::row_major, wmma::col_major>(rng);
    test_bf16<wmma::col_major, wmma::row_major>(rng);
    test_bf16<wmma::col_major, wmma::col_major>(rng);
    test_shuffles();
    test_error_reported();
    test_unconverted_counted();
    std::printf("emu_selftest: %s (%d failures)\n", failures == 0 ? "pass" : "FAIL", failures);
    return failures == 0 ? 0 : 1;
}
