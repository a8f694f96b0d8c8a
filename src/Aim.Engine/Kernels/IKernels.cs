using Aim.Engine.Tensors;

namespace Aim.Engine.Kernels;

/// <summary>
/// The kernel contract: the fixed set of operations a backend implements. Each family of kernels
/// lives in its own partial file (IKernels.Core.cs, IKernels.Norm.cs, ...).
/// </summary>
/// <remarks>
/// Conventions, for every kernel:
/// <list type="bullet">
/// <item>Arguments: inputs first, attributes next, outputs last (TensorPrimitives order).</item>
/// <item>Outputs are allocated by the caller, contiguous, with the exact shape stated; kernels never allocate results.</item>
/// <item>Inputs must be contiguous unless the kernel says it takes strided views.</item>
/// <item>All tensors are on the backend's device. Float kernels take Float32 and (reference) Float64;
///       backends state what else they accept and throw <see cref="NotSupportedException"/> naming the op otherwise.</item>
/// <item>Backward kernels write (not accumulate) their gradient outputs unless they say "accumulates".</item>
/// <item>Shape errors throw <see cref="ArgumentException"/> naming the op and the shapes.</item>
/// </list>
/// Three implementations: <c>ReferenceKernels</c> (scalar, obviously right, kept forever), <c>CpuKernels</c>
/// (SIMD and threads, overrides the reference per op) and the CUDA kernels.
/// </remarks>
public partial interface IKernels
{
    /// <summary>A short name for logs and test names ("reference", "cpu", "cuda").</summary>
    string Name { get; }
}
