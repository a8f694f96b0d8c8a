// Fill: writes one bit pattern (the value already converted to the output dtype on the host) to every
// element of a contiguous buffer of 2-, 4- or 8-byte elements.
#include "common.cuh"

extern "C" __global__ void fill_b16(unsigned short* out, unsigned short bits, i64 n)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, n) out[i] = bits;
}

extern "C" __global__ void fill_b32(unsigned int* out, unsigned int bits, i64 n)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, n) out[i] = bits;
}

extern "C" __global__ void fill_b64(u64* out, u64 bits, i64 n)
{
    AIM_PDL_PROLOGUE();
    AIM_GRID_STRIDE(i, n) out[i] = bits;
}
