// Runs copy.cu's fast copy kernels (copy_flat_*, copy_rows_* for f32→f32, f32→bf16, bf16→f32) under the CPU emulation
// (cuda_emu.hpp) against the generic strided kernel (copy_<s>_<d>) on the same inputs, bit for bit. Cases are built here
// (no emitted files): flat runs of 1, 7, 31, 257, 4099 and 8192×768 elements at element offsets 0..3 on either side
// (equal offsets: aligned vectors with a scalar head; different offsets: the scalar flat kernel); row views (slices of
// the last dimension at columns 0..3 of rows 1, 3, 4 or 5 wider, so row strides that are and are not multiples of 4) as
// source, as destination and on both sides; 3-D slices that collapse to rows; a row broadcast (row stride 0); the AiM-B
// layouts (columns 0..1535 and 1536..3071 of 8192×3352 rows, 8192×768 flat); and views only the generic kernel takes
// (transposes, a middle-dimension slice, a column). Each case runs
//   * the plan of src/Aim.Engine.Cuda/Kernels/CudaKernels.Core.cs Copy (PlanCopy, mirrored below, on the descriptors of
//     StridedDesc.Collapse, mirrored too) and the case's expected kernel kind must be the one it picks,
//   * the same kernel with vectors turned off (vec = 0), and a flat copy also as one row of the row kernel,
//   * the generic kernel on the collapsed descriptors,
// each on a destination storage pre-filled with the same random bits (so a stray or missing write shows up), and
// the whole destination storage must be byte-identical to the generic kernel's. Inputs are random bit patterns mixed
// with the values that matter for the casts: f32 ties at bf16 precision (low half 0x8000, even and odd upper halves),
// near-ties, denormals, ±Inf, quiet NaNs with payloads, values that round up to Inf, ±0; bf16 sources likewise. A
// signaling NaN is quieted by the generic kernel's detour through double (on this CPU; the GPU's cvt may differ), so
// the f32→f32 and bf16→f32 inputs carry none; a separate check requires the fast kernels to keep a signaling NaN's bits
// (as cuMemcpy does) and f32→bf16 to give the generic kernel's bits for them.
// Built with -fsanitize=alignment (run.sh), so a vector access at a misaligned address aborts.
// Usage: copy_check [case-name-substring]    exit 1 when any run fails.
#include <cstdint>
#include <cstring>
#include <memory> // before cuda_emu.hpp: its __noinline__ macro breaks libstdc++'s attribute of that name
#include <type_traits>

#include "cuda_emu.hpp"
#include "emu_cases.hpp"
#include "copy.cu"
#include "emu_strided.hpp"

namespace
{
constexpr int CopyUnroll = 2; // COPY_UNROLL, CudaKernels.Core.cs CopyUnroll

enum class Kind { Generic, Flat, Rows };
const char* kind_name(Kind k) { return k == Kind::Flat ? "flat" : k == Kind::Rows ? "rows" : "generic"; }

/// A view: shape and element strides over a storage of `storage` elements, starting at element `offset`.
struct View
{
    std::vector<int> shape;
    std::vector<long long> strides;
    long long offset = 0;
    long long storage = 0;
};

View contiguous(std::vector<int> shape, long long offset = 0)
{
    View v{shape, std::vector<long long>(shape.size()), offset, 0};
    long long s = 1;
    for (int d = (int)shape.size() - 1; d >= 0; d--)
    {
        v.strides[d] = s;
        s *= shape[d];
    }
    v.storage = offset + std::max(s, 1LL);
    return v;
}

/// Columns c0 .. c0 + cols - 1 of a contiguous (rows, width) storage that starts at element `offset`.
View row_view(int rows, int cols, int width, int c0, long long offset = 0)
{
    View v = contiguous({rows, width}, offset);
    v.shape[1] = cols;
    v.offset = offset + c0;
    return v;
}

/// The view's StridedDesc.Collapse (emu_strided.hpp).
Strided collapse(const View& v) { return ::collapse(v.shape, v.strides); }

struct Plan
{
    Kind kind;
    long long rows, cols, ss, ds;
    bool vec;
    int head;
    long long pieces;
};

/// copy.cu run_pieces / CudaKernels.Core.cs CopyPieces.
long long pieces_of(long long length, bool vec, int head)
{
    if (!vec) return length;
    long long nvec = (length - head) / 4;
    return (head > 0 ? 1 : 0) + nvec + (length - head - 4 * nvec > 0 ? 1 : 0);
}

/// CudaKernels.Core.cs PlanCopy.
Plan plan_copy(const Strided& s, const Strided& d, long long n, uint64_t sourceElement, uint64_t outputElement)
{
    int sa = (int)(sourceElement % 4), da = (int)(outputElement % 4);
    bool sFlat = s.rank == 1 && s.stride[0] == 1, dFlat = d.rank == 1 && d.stride[0] == 1;
    if (sFlat && dFlat)
    {
        bool vec = sa == da;
        int head = vec ? (int)std::min<long long>((4 - sa) % 4, n) : 0;
        return {Kind::Flat, 1, n, n, n, vec, head, pieces_of(n, vec, head)};
    }
    bool sRows = s.rank == 2 && s.stride[1] == 1, dRows = d.rank == 2 && d.stride[1] == 1;
    long long rows, cols, ss, ds;
    if (sRows && (dFlat || (dRows && d.shape[1] == s.shape[1])))
    {
        rows = s.shape[0];
        cols = s.shape[1];
        ss = s.stride[0];
        ds = dFlat ? cols : d.stride[0];
    }
    else if (dRows && sFlat)
    {
        rows = d.shape[0];
        cols = d.shape[1];
        ss = cols;
        ds = d.stride[0];
    }
    else return {Kind::Generic, 0, 0, 0, 0, false, 0, 0};
    bool vec = sa == da && ss % 4 == 0 && ds % 4 == 0;
    int head = vec ? (int)std::min<long long>((4 - sa) % 4, cols) : 0;
    return {Kind::Rows, rows, cols, ss, ds, vec, head, rows * pieces_of(cols, vec, head)};
}

template <typename S, typename D> struct Kernels;
template <> struct Kernels<float, float>
{
    static constexpr auto generic = copy_f32_f32;
    static constexpr auto flat = copy_flat_f32_f32;
    static constexpr auto rows = copy_rows_f32_f32;
    static constexpr const char* name = "f32->f32";
};
template <> struct Kernels<float, bf16>
{
    static constexpr auto generic = copy_f32_bf16;
    static constexpr auto flat = copy_flat_f32_bf16;
    static constexpr auto rows = copy_rows_f32_bf16;
    static constexpr const char* name = "f32->bf16";
};
template <> struct Kernels<bf16, float>
{
    static constexpr auto generic = copy_bf16_f32;
    static constexpr auto flat = copy_flat_bf16_f32;
    static constexpr auto rows = copy_rows_bf16_f32;
    static constexpr const char* name = "bf16->f32";
};

/// Storage of `count` elements of T, 256-byte aligned as cuMemAlloc's allocations are.
template <typename T> struct Buffer
{
    std::unique_ptr<T, decltype(&std::free)> p{nullptr, &std::free};
    long long count = 0;
    explicit Buffer(long long n) : p((T*)std::aligned_alloc(256, (size_t)((n * (long long)sizeof(T) + 255) / 256 * 256)), &std::free), count(n) {}
    T* data() const { return p.get(); }
};

struct Rand
{
    uint64_t s;
    uint32_t next()
    {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return (uint32_t)(s >> 32);
    }
};

/// An f32 bit pattern: mostly random numbers, with bf16 ties and near-ties, denormals, ±Inf, quiet NaNs, values that
/// round to Inf in bf16 and ±0; signaling NaNs only when `signaling`.
uint32_t f32_bits(Rand& r, bool signaling)
{
    uint32_t kind = r.next() % 100, sign = r.next() & 0x80000000u, x = r.next();
    if (kind < 35) return sign | ((uint32_t)(107 + x % 40) << 23) | (r.next() & 0x7fffffu);           // |v| in 2^-20 .. 2^20
    if (kind < 47) return sign | ((uint32_t)(1 + x % 254) << 23) | (r.next() & 0x7f0000u) | 0x8000u;   // exact bf16 ties
    if (kind < 53) return sign | ((uint32_t)(1 + x % 254) << 23) | (r.next() & 0x7f0000u) | ((x & 1) ? 0x7fffu : 0x8001u);
    if (kind < 60) return sign | (1u + r.next() % 0x7fffffu);                                           // denormals
    if (kind < 63) return sign | 0x7f800000u;                                                           // ±Inf
    if (kind < 67) return sign | 0x7fc00000u | (r.next() & 0x3fffffu);                                   // quiet NaNs
    if (kind < 69) return sign | 0x7f7f8000u | (r.next() & 0x7fffu);                                     // round to ±Inf
    if (kind < 71) return sign;                                                                         // ±0
    if (kind < 73 && signaling) return sign | 0x7f800000u | (1u + r.next() % 0x3fffffu);                // signaling NaNs
    uint32_t any = r.next();
    if ((any & 0x7f800000u) == 0x7f800000u && (any & 0x7fffffu) != 0 && !(any & 0x400000u) && !signaling) any |= 0x400000u;
    return any;
}

/// A bf16 bit pattern: random finite values, denormals, ±Inf, quiet NaNs with payloads, ±0 (no signaling NaNs).
uint16_t bf16_bits(Rand& r)
{
    uint32_t kind = r.next() % 100, sign = (r.next() & 1u) << 15, x = r.next();
    if (kind < 70) return (uint16_t)(sign | ((1 + x % 254) << 7) | (r.next() & 0x7fu));
    if (kind < 80) return (uint16_t)(sign | (1 + r.next() % 0x7fu));
    if (kind < 85) return (uint16_t)(sign | 0x7f80u);
    if (kind < 92) return (uint16_t)(sign | 0x7fc0u | (r.next() & 0x3fu));
    if (kind < 95) return (uint16_t)sign;
    uint16_t any = (uint16_t)r.next();
    if ((any & 0x7f80u) == 0x7f80u && (any & 0x7fu) != 0) any |= 0x40u;
    return any;
}

template <typename T> void fill_source(T* p, long long n, Rand& r, bool signaling);
template <> void fill_source<float>(float* p, long long n, Rand& r, bool signaling)
{
    for (long long i = 0; i < n; i++)
    {
        uint32_t b = f32_bits(r, signaling);
        std::memcpy(&p[i], &b, 4);
    }
}
template <> void fill_source<bf16>(bf16* p, long long n, Rand&  r, bool)
{
    for (long long i = 0; i < n; i++) p[i].bits = bf16_bits(r);
}

int failures = 0, runs = 0;
int kindRuns[3][2] = {};

void fail(const std::string& what)
{
    failures++;
    std::printf("FAIL %s\n", what.c_str());
}

template <typename S, typename D>
void launch_plan(const Plan& p, const S* src, D* dst, long long n)
{
    if (p.kind == Kind::Flat)
        launch_elementwise((p.pieces + CopyUnroll - 1) / CopyUnroll, Kernels<S, D>::flat, src, dst, n, p.vec ? 1 : 0, p.head);
    else
        launch_elementwise((p.pieces + CopyUnroll - 1) / CopyUnroll, Kernels<S, D>::rows, src, p.ss, dst, p.ds, p.rows, p.cols, p.vec ? 1 : 0, p.head);
}

/// The case's runs; `expect` is the kind the plan must pick, `expectVec` whether it must vectorise (-1: either).
template <typename S, typename D>
void run_case(const std::string& name, const View& sv, const View& dv, Kind expect, int expectVec, uint64_t seed)
{
    const std::string tag = std::string(Kernels<S, D>::name) + " " + name;
    const long long n = count(sv.shape);
    if (n != count(dv.shape)) { std::fprintf(stderr, "%s: element counts differ\n", tag.c_str()); std::exit(2); }
    Rand r{seed * 0x9E3779B97F4A7C15ULL + 7};
    const bool exactNaNs = std::is_same<S, float>::value && std::is_same<D, bf16>::value;
    Buffer<S> src(sv.storage);
    fill_source<S>(src.data(), sv.storage, r, exactNaNs);
    Buffer<D> init(dv.storage), want(dv.storage), got(dv.storage);
    for (long long i = 0; i < dv.storage * (long long)sizeof(D); i++) ((unsigned char*)init.data())[i] = (unsigned char)r.next();
    const size_t bytes = (size_t)(dv.storage * (long long)sizeof(D));

    Strided s = collapse(sv), d = collapse(dv);
    const S* sp = src.data() + sv.offset;
    std::memcpy(want.data(), init.data(), bytes);
    launch_elementwise(n, Kernels<S, D>::generic, sp, s, want.data() + dv.offset, d, n);

    Plan plan = plan_copy(s, d, n, (uint64_t)(uintptr_t)sp / sizeof(S), (uint64_t)(uintptr_t)(got.data() + dv.offset) / sizeof(D));
    std::printf("%-44s n=%-9lld plan %s%s head=%d rows=%lld cols=%lld ss=%lld ds=%lld pieces=%lld\n", tag.c_str(), n, kind_name(plan.kind),
        plan.kind == Kind::Generic ? "" : plan.vec ? " vec" : " scalar", plan.head, plan.rows, plan.cols, plan.ss, plan.ds, plan.pieces);
    runs++;
    if (plan.kind != expect || (expectVec >= 0 && plan.vec != (expectVec == 1)))
        fail(tag + ": plan " + kind_name(plan.kind) + (plan.vec ? " vec" : " scalar") + ", expected " + kind_name(expect) + (expectVec == 1 ? " vec" : expectVec == 0 ? " scalar" : ""));
    kindRuns[(int)plan.kind][plan.vec ? 1 : 0]++;
    if (plan.kind == Kind::Generic) return;

    auto check = [&](const Plan& p, const std::string& what)
    {
        runs++;
        std::memcpy(got.data(), init.data(), bytes);
        launch_plan<S, D>(p, sp, got.data() + dv.offset, n);
        if (std::memcmp(got.data(), want.data(), bytes) != 0)
        {
            long long first = -1;
            for (long long i = 0; i < dv.storage && first < 0; i++)
                if (std::memcmp(got.data() + i, want.data() + i, sizeof(D)) != 0) first = i;
            fail(tag + " " + what + ": not bit-identical to the generic kernel (first difference at storage element " + std::to_string(first) + ")");
        }
    };
    check(plan, "planned");
    Plan scalar = plan;
    scalar.vec = false;
    scalar.head = 0;
    scalar.pieces = plan.rows * plan.cols;
    check(scalar, "vec=0");
    if (plan.kind == Kind::Flat)
    {
        Plan asRow = plan;
        asRow.kind = Kind::Rows;
        check(asRow, "flat as one row");
    }
}

/// The fast kernels keep a signaling NaN's bits (f32→f32, bf16→f32, as cuMemcpy does) where the generic kernel's
/// double detour quiets it on this CPU; f32→bf16 gives the generic kernel's bits.
void signaling_nans()
{
    const uint32_t f[] = {0x7f800001u, 0xff812345u, 0x7fbfffffu, 0x7f800100u, 0xffa00000u, 0x3f800000u, 0x7f800000u, 0x7fc00001u};
    const uint16_t b[] = {0x7f81u, 0xffbfu, 0x7fa0u, 0x7f80u, 0x3f80u, 0x7fc1u, 0x0001u, 0x8000u};
    Buffer<float> fs(8), fd(8), fg(8);
    Buffer<bf16> bs(8), bd(8), bg(8);
    std::memcpy(fs.data(), f, sizeof f);
    for (int i = 0; i < 8; i++) bs.data()[i].bits = b[i];
    Strided one{};
    one.rank = 1;
    one.shape[0] = 8;
    one.stride[0] = 1;
    runs += 3;
    launch_elementwise(2, copy_flat_f32_f32, (const float*)fs.data(), fd.data(), 8LL, 1, 0);
    if (std::memcmp(fd.data(), f, sizeof f) != 0) fail("signaling NaN f32->f32: bits changed");
    launch_elementwise(2, copy_flat_bf16_f32, (const bf16*)bs.data(), fd.data(), 8LL, 1, 0);
    for (int i = 0; i < 8; i++)
    {
        uint32_t got;
        std::memcpy(&got, fd.data() + i, 4);
        if (got != (uint32_t)b[i] << 16) fail("signaling NaN bf16->f32: element " + std::to_string(i) + " not the exact widening");
    }
    launch_elementwise(2, copy_flat_f32_bf16, (const float*)fs.data(), bd.data(), 8LL, 1, 0);
    launch_elementwise(8, copy_f32_bf16, (const float*)fs.data(), one, bg.data(), one, 8LL);
    if (std::memcmp(bd.data(), bg.data(), 16) != 0) fail("signaling NaN f32->bf16: differs from the generic kernel");
}

template <typename S, typename D> void cases(const std::string& filter)
{
    uint64_t seed = 0;
    auto run = [&](const std::string& name, const View& sv, const View& dv, Kind k, int vec)
    {
        seed++;
        if (!filter.empty() && (std::string(Kernels<S, D>::name) + " " + name).find(filter) == std::string::npos) return;
        run_case<S, D>(name, sv, dv, k, vec, seed);
    };
    // Flat runs at every pair of element offsets 0..3 (equal: vectors after a head; different: scalar).
    for (int n : {1, 7, 31, 257, 4099})
        for (int os = 0; os < 4; os++)
            for (int od = 0; od < 4; od++)
                run("flat n=" + std::to_string(n) + " offsets " + std::to_string(os) + "," + std::to_string(od),
                    contiguous({n}, os), contiguous({n}, od), Kind::Flat, os == od ? 1 : 0);
    run("flat 8192x768", contiguous({8192, 768}), contiguous({8192, 768}), Kind::Flat, 1);
    run("flat 8192x768 offsets 3,3", contiguous({8192, 768}, 3), contiguous({8192, 768}, 3), Kind::Flat, 1);
    run("flat 8192x768 offsets 1,2", contiguous({8192, 768}, 1), contiguous({8192, 768}, 2), Kind::Flat, 0);
    // Row views: source, destination, both; widths cols + 1, 3 (strides not multiples of 4 in general), 4, 5; columns 0..3.
    for (int rows : {7, 31, 257})
        for (int cols : {2, 3, 7, 8, 31, 257, 260})
            for (int extra : {1, 3, 4, 5})
                for (int c0 : {0, 1, 3})
                {
                    if (c0 > extra) continue;
                    int w = cols + extra;
                    std::string sz = std::to_string(rows) + "x" + std::to_string(cols) + " of " + std::to_string(w) + " at " + std::to_string(c0);
                    // Against a contiguous side (row stride cols, element offset 0): vectors need both strides multiples of 4 and c0 = 0.
                    int vecOne = w % 4 == 0 && cols % 4 == 0 && c0 == 0 ? 1 : 0;
                    run("rows src " + sz, row_view(rows, cols, w, c0), contiguous({rows, cols}), Kind::Rows, vecOne);
                    run("rows dst " + sz, contiguous({rows, cols}), row_view(rows, cols, w, c0), Kind::Rows, vecOne);
                    run("rows both " + sz, row_view(rows, cols, w, c0), row_view(rows, cols, w + 4, c0 + 4), Kind::Rows, w % 4 == 0 ? 1 : 0);
                }
    // Aligned and misaligned row views whose heads and tails both occur (columns 1..3 of rows a multiple of 4 wide).
    for (int c0 : {1, 2, 3})
        run("rows both 31x257 of 264 at " + std::to_string(c0), row_view(31, 257, 264, c0), row_view(31, 257, 268, c0), Kind::Rows, 1);
    run("rows both 3x3 of 8 at 1 (head only)", row_view(3, 3, 8, 1), row_view(3, 3, 12, 1), Kind::Rows, 1);
    run("rows both 3x2 of 8 at 3 (head and tail)", row_view(3, 2, 8, 3), row_view(3, 2, 12, 3), Kind::Rows, 1);
    // 3-D slices of the last dimension that collapse to rows; a broadcast row (row stride 0).
    {
        View s3 = contiguous({4, 9, 40});
        s3.shape[2] = 32;
        s3.offset = 8;
        run("3-D slice (4,9,32) of (4,9,40) at 8", s3, contiguous({4, 9, 32}), Kind::Rows, 1);
        s3.shape[2] = 31;
        run("3-D slice (4,9,31) of (4,9,40) at 8", s3, contiguous({4, 9, 31}), Kind::Rows, 0);
        View b = contiguous({1, 256});
        b.shape[0] = 9;
        b.strides[0] = 0;
        run("broadcast rows (9,256) stride 0", b, contiguous({9, 256}), Kind::Rows, 1);
    }
    // The AiM-B training layouts: z = columns 0..1535 and x = columns 1536..3071 of the in-projection's 3352-wide rows.
    run("aim z 8192x1536 of 3352 at 0", row_view(8192, 1536, 3352, 0), contiguous({8192, 1536}), Kind::Rows, 1);
    run("aim x 8192x1536 of 3352 at 1536 (grad)", contiguous({8192, 1536}), row_view(8192, 1536, 3352, 1536), Kind::Rows, 1);
    run("aim 4x257 of 3353 at 1", row_view(4, 257, 3353, 1), contiguous({4, 257}), Kind::Rows, 0);
    // Views only the generic kernel takes.
    {
        View t = contiguous({31, 7});
        std::swap(t.shape[0], t.shape[1]);
        std::swap(t.strides[0], t.strides[1]);
        run("transposed (7,31)", t, contiguous({7, 31}), Kind::Generic, -1);
        View m = contiguous({5, 9, 31});
        m.shape[1] = 4;
        m.offset = 31 * 2;
        run("middle slice (5,4,31) of (5,9,31) (rows of 124)", m, contiguous({5, 4, 31}), Kind::Rows, 0);
        m.shape[2] = 30;
        run("middle and last slice (5,4,30) of (5,9,31)", m, contiguous({5, 4, 30}), Kind::Generic, -1);
        View c = contiguous({257, 7});
        c.shape[1] = 1;
        c.offset = 3;
        run("column (257,1) of (257,7)", c, contiguous({257, 1}), Kind::Generic, -1);
        run("rows of different widths (6,10) -> (12,5)", row_view(6, 10, 13, 1), row_view(12, 5, 8, 0), Kind::Generic, -1);
    }
}
} // namespace

int main(int argc, char** argv)
{
    std::string filter = argc > 1 ? argv[1] : "";
    cases<float, float>(filter);
    cases<float, bf16>(filter);
    cases<bf16, float>(filter);
    if (filter.empty()) signaling_nans();
    std::printf("copy_check: plans flat vec %d, flat scalar %d, rows vec %d, rows scalar %d, generic %d\n", kindRuns[1][1], kindRuns[1][0],
        kindRuns[2][1], kindRuns[2][0], kindRuns[0][0]);
    std::printf("copy_check: %d failures in %d runs\n", failures, runs);
    return failures == 0 ? 0 : 1;
}
