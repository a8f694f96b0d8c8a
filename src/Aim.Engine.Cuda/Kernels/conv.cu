// Image kernels of the VQ tokenizer (IKernels.Conv.cs): the im2col / col2im pair that turns Conv2d and its two
// backward passes into cuBLAS GEMMs (CudaKernels.Conv.cs), the bias broadcast that seeds a GEMM with beta = 1,
// and nearest x2 upsampling with its backward. Formulas are the reference kernels' (ReferenceKernels.Conv.cs):
// zero padding per side, output position (oy, ox) reads input (oy*stride - padTop + ky, ox*stride - padLeft + kx).
// Float32 only; one thread per output element, grid-stride.
#include "common.cuh"

// col (nb, Cin*kh*kw, Ho*Wo) from x (nb, Cin, H, W): row r = (ci*kh + ky)*kw + kx, column p = oy*Wo + ox,
// zero where the tap falls in the padding.
extern "C" __global__ void im2col_f32(const float* x, float* col, int cin, int h, int w, int kh, int kw, int ho, int wo,
    int stride, int padTop, int padLeft, i64 total)
{
    AIM_PDL_PROLOGUE();
    const i64 p = (i64)ho * wo, rows = (i64)cin * kh * kw;
    AIM_GRID_STRIDE(i, total)
    {
        i64 pix = i % p, t = i / p;
        int row = (int)(t % rows);
        i64 n = t / rows;
        int ox = (int)(pix % wo), oy = (int)(pix / wo);
        int kx = row % kw, ky = (row / kw) % kh, ci = row / (kw * kh);
        int iy = oy * stride - padTop + ky, ix = ox * stride - padLeft + kx;
        col[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[((n * cin + ci) * h + iy) * w + ix] : 0.0f;
    }
}

// dx (nb, Cin, H, W) = the sum of every col (nb, Cin*kh*kw, Ho*Wo) entry that im2col would have read from that
// input position: a gather (one thread per input element, taps in (ky, kx) order), so no atomics and a
// deterministic order. Input positions no output reads (stride remainder, bottom/right cut) get zero.
extern "C" __global__ void col2im_f32(const float* col, float* dx, int cin, int h, int w, int kh, int kw, int ho, int wo,
    int stride, int padTop, int padLeft, i64 total)
{
    AIM_PDL_PROLOGUE();
    const i64 p = (i64)ho * wo, rows = (i64)cin * kh * kw;
    AIM_GRID_STRIDE(i, total)
    {
        int ix = (int)(i % w);
        i64 t = i / w;
        int iy = (int)(t % h);
        t /= h;
        int ci = (int)(t % cin);
        i64 n = t / cin;
        const float* base = col + n * rows * p;
        float acc = 0.0f;
        for (int ky = 0; ky < kh; ky++)
        {
            int ty = iy + padTop - ky;
            if (ty < 0 || ty % stride != 0) continue;
            int oy = ty / stride;
            if (oy >= ho) continue;
            for (int kx = 0; kx < kw; kx++)
            {
                int tx = ix + padLeft - kx;
                if (tx < 0 || tx % stride != 0) continue;
                int ox = tx / stride;
                if (ox >= wo) continue;
                acc += base[((i64)(ci * kh + ky) * kw + kx) * p + (i64)oy * wo + ox];
            }
        }
        dx[i] = acc;
    }
}

// out (nb, Cout, P) = bias[co]: the C operand of a beta = 1 GEMM, so the bias is added by cuBLAS.
extern "C" __global__ void bias_rows_f32(const float* bias, float* out, int cout, i64 p, i64 total)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, total) out[i] = bias[(i / p) % cout];
}

// y (planes, 2H, 2W) = x (planes, H, W) at (y/2, x/2).
extern "C" __global__ void upsample_nearest2x_f32(const float* x, float* y, int h, int w, i64 total)
{
    AIM_PDL_PROLOGUE();
    const int w2 = 2 * w, h2 = 2 * h;
    AIM_GRID_STRIDE(i, total)
    {
        int ox = (int)(i % w2);
        i64 t = i / w2;
        int oy = (int)(t % h2);
        i64 plane = t / h2;
        y[i] = x[(plane * h + oy / 2) * w + ox / 2];
    }
}

// dx (planes, H, W) = sum of the 2x2 block of dy (planes, 2H, 2W), in the reference's order (row-major in the block).
extern "C" __global__ void upsample_nearest2x_backward_f32(const float* dy, float* dx, int h, int w, i64 total)
{
    AIM_PDL_PROLOGUE();
    const i64 w2 = 2 * (i64)w;
    AIM_GRID_STRIDE(i, total)
    {
        int x = (int)(i % w);
        i64 t = i / w;
        int y = (int)(t % h);
        i64 plane = t / h;
        const float* b = dy + (plane * 2 * h + 2 * y) * w2 + 2 * x;
        dx[i] = ((b[0] + b[1]) + b[w2]) + b[w2 + 1];
    }
}
