// Per-kernel CPU time profile (ANCHORS §8.6 "op timing"): a DispatchProxy stands in front of the CPU kernels
// and accumulates wall time and call counts per contract method while a workload runs.
using System.Diagnostics;
using System.Reflection;
using Aim.Engine.Backends;
using Aim.Engine.Kernels;

namespace Aim.Bench;

/// <summary>Times every kernel call made on this thread while <see cref="Attach"/>'s scope is open.</summary>
public class KernelProfiler : DispatchProxy
{
    private IKernels? _inner;
    private Dictionary<string, (double Ms, long Calls)>? _totals;

    /// <summary>Routes this thread's CPU ops through a timing proxy until the returned scope is disposed; read the totals after.</summary>
    public static IDisposable Attach(out IReadOnlyDictionary<string, (double Ms, long Calls)> totals)
    {
        var proxy = Create<IKernels, KernelProfiler>();
        var profiler = (KernelProfiler)(object)proxy;
        profiler._inner = Backend.Cpu.Kernels;
        var map = new Dictionary<string, (double, long)>();
        profiler._totals = map;
        totals = map;
        return Backend.UseCpuKernels(proxy);
    }

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            return targetMethod!.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
        finally
        {
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            string name = targetMethod!.Name;
            if (name == nameof(IKernels.Binary) || name == nameof(IKernels.Unary)) name += "." + args![0];
            _totals!.TryGetValue(name, out var t);
            _totals[name] = (t.Ms + ms, t.Calls + 1);
        }
    }
}
