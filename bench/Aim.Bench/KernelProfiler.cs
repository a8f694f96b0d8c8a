// Per-kernel time profile of any device (ANCHORS §8.6 "op timing"): a DispatchProxy stands in front of a device's
// kernels (Backend.UseKernels, this thread only) and accumulates, per kernel name, wall time, call count, the bytes
// the call's tensors span and, for Gemm, its FLOPs (2·M·N·K per batch entry).
//
// On a device that queues work (CUDA) the proxy synchronises the device before starting the clock and again after
// the call returns, so each kernel's time is its own execution plus its launch and any host-side work inside it.
// That serialises the whole step (no overlap of launches with execution) and makes it slower than an unprofiled
// one: the profile is for attribution, not for the step time. Work recorded for replay (RecordedWork, CUDA graphs)
// must not run under the profiler, since synchronising inside a recording is not allowed: the proxy refuses kernel
// calls while a CUDA graph is being captured.
//
// Bytes: every Tensor argument (inputs and outputs; nulls skipped) counts its element size times the number of
// distinct elements it spans (dimensions with stride 0, i.e. broadcast views, count once). A tensor read and
// written in place counts once per argument it appears in. This is what the call must move at least once through
// memory, so bytes / bandwidth is a floor; caches can beat it for small tensors.
using System.Diagnostics;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Aim.Engine.Backends;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Bench;

/// <summary>One kernel name's totals in a <see cref="KernelProfile"/>.</summary>
/// <param name="Name">Contract method, with the op for Binary/Unary/UnaryBackward and the transposes for Gemm.</param>
/// <param name="Calls">Calls made.</param>
/// <param name="Ms">Wall time summed over the calls, milliseconds.</param>
/// <param name="Bytes">Bytes spanned by the calls' tensors, summed over the calls.</param>
/// <param name="Flops">FLOPs summed over the calls (Gemm only; 0 elsewhere).</param>
public sealed record KernelStat(string Name, long Calls, double Ms, double Bytes, double Flops)
{
    /// <summary>Milliseconds per call.</summary>
    public double MsPerCall => Calls == 0 ? 0 : Ms / Calls;

    /// <summary>Bytes per call.</summary>
    public double BytesPerCall => Calls == 0 ? 0 : Bytes / Calls;

    /// <summary>Achieved bandwidth, GB/s (10⁹ bytes).</summary>
    public double GBs => Ms > 0 ? Bytes / (Ms * 1e6) : 0;

    /// <summary>Achieved GFLOP/s (0 when no FLOPs are counted).</summary>
    public double Gflops => Ms > 0 ? Flops / (Ms * 1e6) : 0;

    /// <summary>Time the bytes take at the measured bandwidth, milliseconds.</summary>
    public double BandwidthFloorMs(Roofline roofline) => Bytes / (roofline.BandwidthGBs * 1e6);

    /// <summary>Time the FLOPs take at the measured matrix peak, milliseconds (0 without FLOPs).</summary>
    public double FlopFloorMs(Roofline roofline) => Flops / (roofline.PeakGflops * 1e6);
}

/// <summary>What a <see cref="KernelProfiler"/> collected: totals per kernel name.</summary>
public sealed class KernelProfile
{
    private readonly Dictionary<string, KernelStat> _stats = new(StringComparer.Ordinal);

    /// <summary>A profile of the kernels of <paramref name="device"/>.</summary>
    public KernelProfile(Device device) => Device = device;

    /// <summary>The device whose kernels were timed.</summary>
    public Device Device { get; }

    /// <summary>Every kernel name, longest total time first (ties by name).</summary>
    public IReadOnlyList<KernelStat> ByTotalTime()
        => _stats.Values.OrderByDescending(s => s.Ms).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();

    /// <summary>The totals of one name, or null.</summary>
    public KernelStat? this[string name] => _stats.GetValueOrDefault(name);

    /// <summary>Sum over every kernel.</summary>
    public KernelStat Total => Sum("total", _stats.Values);

    /// <summary>
    /// The <paramref name="top"/> longest kernels, then a "rest" row summing the others (only if there are any),
    /// then a "total" row over all of them.
    /// </summary>
    public IReadOnlyList<KernelStat> Rows(int top)
    {
        var all = ByTotalTime();
        var rows = all.Take(top).ToList();
        if (all.Count > top) rows.Add(Sum("rest", all.Skip(top)));
        rows.Add(Sum("total", all));
        return rows;
    }

    /// <summary>Adds one call.</summary>
    public void Add(string name, double ms, double bytes, double flops)
    {
        _stats.TryGetValue(name, out var s);
        _stats[name] = s is null ? new KernelStat(name, 1, ms, bytes, flops) : new KernelStat(name, s.Calls + 1, s.Ms + ms, s.Bytes + bytes, s.Flops + flops);
    }

    private static KernelStat Sum(string name, IEnumerable<KernelStat> stats)
    {
        long calls = 0;
        double ms = 0, bytes = 0, flops = 0;
        foreach (var s in stats)
        {
            calls += s.Calls;
            ms += s.Ms;
            bytes += s.Bytes;
            flops += s.Flops;
        }
        return new KernelStat(name, calls, ms, bytes, flops);
    }
}

/// <summary>Times every kernel call this thread makes on one device while <see cref="Attach"/>'s scope is open.</summary>
public class KernelProfiler : DispatchProxy
{
    private IKernels? _inner;
    private IBackend? _backend;
    private KernelProfile? _profile;
    private int _depth;

    /// <summary>
    /// Routes this thread's ops on <paramref name="device"/> through a timing proxy until the returned scope is
    /// disposed; <paramref name="profile"/> fills as they run. Synchronises the device around every call (see the
    /// file header): profiled steps are slower than real ones.
    /// </summary>
    public static IDisposable Attach(Device device, out KernelProfile profile)
    {
        var proxy = Create<IKernels, KernelProfiler>();
        var profiler = (KernelProfiler)(object)proxy;
        profiler._inner = Backend.Kernels(device);
        profiler._backend = Backend.For(device);
        profile = new KernelProfile(device);
        profiler._profile = profile;
        return Backend.UseKernels(device, proxy);
    }

    /// <summary>
    /// Bytes a tensor spans: element size × the product of its dimensions, dimensions with stride 0 (broadcast)
    /// counted once.
    /// </summary>
    public static long TensorBytes(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        long elements = 1;
        var shape = t.Shape;
        var strides = t.Strides;
        for (int d = 0; d < shape.Length; d++)
            if (strides[d] != 0) elements *= shape[d];
        if (t.Count == 0) elements = 0;
        return elements * t.DType.SizeOf();
    }

    /// <summary>
    /// Bytes a call moves: <see cref="TensorBytes"/> summed over its tensor arguments and the tensors of its tensor-list
    /// arguments (the optimizer's list kernels; nulls skipped).
    /// </summary>
    public static long CallBytes(object?[]? args)
    {
        long bytes = 0;
        if (args is null) return 0;
        foreach (var a in args)
        {
            if (a is Tensor t) bytes += TensorBytes(t);
            else if (a is IEnumerable<Tensor> list)
                foreach (var x in list) bytes += TensorBytes(x);
        }
        return bytes;
    }

    /// <summary>
    /// FLOPs of a call: for <see cref="IKernels.Gemm"/>, 2·Bc·M·N·K (c: (Bc, M, N); K from a and transA);
    /// 0 for every other kernel.
    /// </summary>
    public static double CallFlops(string method, object?[]? args)
    {
        if (method != nameof(IKernels.Gemm) || args is not [Tensor a, _, Tensor c, bool transA, ..] || a.Rank < 2) return 0;
        long k = transA ? a.Shape[^2] : a.Shape[^1];
        return 2.0 * c.Count * k;
    }

    /// <summary>
    /// The name a call is grouped under: the contract method, plus the op for Binary, Unary and UnaryBackward, and
    /// the transposes (NN, NT, TN, TT) for Gemm, with ".bf16w" when b is bf16 and a is not.
    /// </summary>
    public static string CallName(string method, object?[]? args)
    {
        switch (method)
        {
            case nameof(IKernels.Binary) or nameof(IKernels.Unary) or nameof(IKernels.UnaryBackward) when args is [var op, ..]:
                return method + "." + op;
            case nameof(IKernels.Gemm) when args is [Tensor a, Tensor b, _, bool transA, bool transB, ..]:
                string name = method + "." + (transA ? "T" : "N") + (transB ? "T" : "N");
                return b.DType == DType.BFloat16 && a.DType != DType.BFloat16 ? name + ".bf16w" : name;
            default:
                return method;
        }
    }

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        // Property getters (Name) and calls nested inside a timed kernel pass straight through.
        if (targetMethod.IsSpecialName || _depth > 0) return Call(targetMethod, args);
        if (_backend is CudaBackend { IsCapturing: true })
            throw new InvalidOperationException($"KernelProfiler: {targetMethod.Name} was called while a CUDA graph is being recorded; kernels cannot be synchronised one by one inside a recording (run the work eagerly to profile it)");
        string name = CallName(targetMethod.Name, args);
        long bytes = CallBytes(args);
        double flops = CallFlops(targetMethod.Name, args);
        _backend!.Synchronize();
        long start = Stopwatch.GetTimestamp();
        _depth++;
        object? result;
        try
        {
            result = Call(targetMethod, args);
        }
        finally
        {
            _depth--;
        }
        _backend.Synchronize();
        _profile!.Add(name, Stopwatch.GetElapsedTime(start).TotalMilliseconds, bytes, flops);
        return result;
    }

    private object? Call(MethodInfo method, object?[]? args)
    {
        try
        {
            return method.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}
