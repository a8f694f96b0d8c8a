// The per-kernel profile: Backend.UseKernels overrides one device's kernels on this thread and restores the previous
// ones when disposed; the profiling proxy's bytes (tensor spans, broadcast dimensions once) and Gemm FLOPs for known
// calls; `aim bench train --profile` on a fixture config prints the kernel table (and JSON lines) with the scan,
// its backward, the GEMMs and a total.
using System.Text.Json;
using System.Text.RegularExpressions;
using Aim.Bench;
using Aim.Engine.Backends;
using Aim.Engine.Kernels;
using Aim.Engine.Kernels.Reference;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Cli.Tests;

public sealed class BenchProfileTests
{
    private static readonly Device s_gpu = Device.Cuda(3);

    /// <summary>This thread's kernels for <paramref name="device"/>, or null when none are registered.</summary>
    private static IKernels? KernelsOrNull(Device device)
    {
        try
        {
            return Backend.Kernels(device);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    [Fact]
    public void UseKernels_overrides_one_device_on_this_thread_and_restores_the_previous_kernels()
    {
        var first = new ReferenceKernels();
        var second = new ReferenceKernels();
        var before = KernelsOrNull(s_gpu);
        Assert.Same(Backend.Cpu.Kernels, Backend.Kernels(Device.Cpu));
        using (Backend.UseKernels(s_gpu, first))
        {
            Assert.Same(first, Backend.Kernels(s_gpu));
            Assert.Same(Backend.Cpu.Kernels, Backend.Kernels(Device.Cpu));           // other devices keep theirs
            IKernels? seenElsewhere = null;
            var other = new Thread(() => seenElsewhere = KernelsOrNull(s_gpu));
            other.Start();
            other.Join();
            Assert.NotSame(first, seenElsewhere);                                    // thread-local
            using (Backend.UseKernels(s_gpu, second))
            {
                Assert.Same(second, Backend.Kernels(s_gpu));
                using (Backend.UseCpuKernels(first)) Assert.Same(first, Backend.Kernels(Device.Cpu));
                Assert.Same(Backend.Cpu.Kernels, Backend.Kernels(Device.Cpu));
            }
            Assert.Same(first, Backend.Kernels(s_gpu));                              // the outer override again
        }
        var after = KernelsOrNull(s_gpu);
        Assert.NotSame(first, after);
        Assert.Same(before, after);
    }

    [Fact]
    public void Profiler_counts_tensor_bytes_with_broadcast_dimensions_once()
    {
        using var scope = TensorScope.Open();
        var a = Tensor.Full([3, 5], 1.0);
        var b = Tensor.Full([3, 5], 2.0);
        var row = Tensor.Full([5], 3.0);
        KernelProfile profile;
        using (KernelProfiler.Attach(Device.Cpu, out profile))
        {
            Ops.Add(a, b);                                                           // 15 + 15 + 15 floats
            Ops.Mul(a, row);                                                         // 15 + 5 (stride 0 over rows) + 15 floats
        }
        var add = profile["Binary.Add"];
        Assert.NotNull(add);
        Assert.Equal(1, add.Calls);
        Assert.Equal(3 * 15 * 4, add.Bytes);
        Assert.Equal(0, add.Flops);
        var mul = profile["Binary.Mul"];
        Assert.NotNull(mul);
        Assert.Equal((15 + 5 + 15) * 4, mul.Bytes);
        Assert.Equal(2, profile.Total.Calls);
        Ops.Add(a, b);                                                               // after the scope: not counted
        Assert.Equal(1, profile["Binary.Add"]!.Calls);
    }

    [Fact]
    public void Profiler_counts_gemm_flops_and_bytes_from_the_shapes()
    {
        using var scope = TensorScope.Open();
        var x = Tensor.Full([2, 3, 4], 0.5);                                         // (B, M, K)
        var w = Tensor.Full([5, 4], 0.25);                                           // (N, K), used transposed
        KernelProfile profile;
        using (KernelProfiler.Attach(Device.Cpu, out profile)) Ops.MatMul(x, w, transB: true);
        var gemm = profile["Gemm.NT"];
        Assert.NotNull(gemm);
        Assert.Equal(1, gemm.Calls);
        Assert.Equal(2.0 * 2 * 3 * 5 * 4, gemm.Flops);                               // 2·B·M·N·K
        Assert.Equal((2 * 3 * 4 + 5 * 4 + 2 * 3 * 5) * 4, gemm.Bytes);
        Assert.True(gemm.Ms >= 0);
    }

    [Fact]
    public void Profile_rows_keep_the_longest_kernels_then_sum_the_rest_and_the_total()
    {
        var profile = new KernelProfile(Device.Cpu);
        profile.Add("A", 1.0, 100, 0);
        profile.Add("B", 5.0, 200, 0);
        profile.Add("C", 2.0, 300, 0);
        profile.Add("A", 3.0, 100, 10);
        var rows = profile.Rows(2);
        Assert.Equal(["B", "A", "rest", "total"], rows.Select(r => r.Name));
        Assert.Equal(new KernelStat("A", 2, 4.0, 200, 10), rows[1]);
        Assert.Equal(new KernelStat("rest", 1, 2.0, 300, 0), rows[2]);
        Assert.Equal(new KernelStat("total", 4, 11.0, 700, 10), rows[3]);
        Assert.Equal(["B", "A", "C", "total"], profile.Rows(3).Select(r => r.Name));   // nothing left over: no rest row
        var second = new KernelStat("x", 1, 500.0, 1e9, 2e9);                        // 1 GB and 2 GFLOP in 0.5 s
        Assert.Equal(1000, second.BandwidthFloorMs(new Roofline(1, 1, 1)), 9);      // at 1 GB/s
        Assert.Equal(2000, second.FlopFloorMs(new Roofline(1, 1, 1)), 9);            // at 1 GFLOP/s
        Assert.Equal(2, second.GBs, 9);
        Assert.Equal(4, second.Gflops, 9);
    }

    [Fact]
    public void Bench_train_profile_prints_the_kernel_table_with_the_scan_its_backward_the_gemms_and_a_total()
    {
        var (path, _) = CliHarness.AimFolders()[0];
        var r = CliHarness.Run("bench", "train", "--device", "cpu", "--model", path, "--batch", "1", "--steps", "1", "--profile");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("Kernel profile of one step on cpu", r.Out);
        var rows = r.Out.Split('\n')
            .Select(l => Regex.Match(l, @"^\s*│\s*([A-Za-z0-9.]+)\s*│\s*(\d+)\s*│"))
            .Where(m => m.Success)
            .ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("SsdScan", rows.Keys);
        Assert.Contains("SsdScanBackward", rows.Keys);
        Assert.Contains(rows.Keys, k => k.StartsWith("Gemm.", StringComparison.Ordinal));
        Assert.Contains("AdamWStepMany", rows.Keys);                        // one call for all parameters
        Assert.Equal(rows.Where(kv => kv.Key != "total").Sum(kv => kv.Value), rows["total"]);
    }

    [Fact]
    public void Bench_train_profile_json_writes_one_line_per_kernel_then_the_total()
    {
        var (path, config) = CliHarness.AimFolders()[0];
        var r = CliHarness.Run("bench", "train", "--device", "cpu", "--model", path, "--batch", "1", "--steps", "1", "--profile", "--json");
        Assert.True(r.Code == 0, r.Err);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        Assert.Equal("train", lines[0].GetProperty("bench").GetString());
        Assert.Equal(0, lines[0].GetProperty("peak_device_mb").GetDouble());   // no device allocator on the CPU
        using (var model = new Aim.Models.Stage2.AimModel(config))                    // weights, gradients, two AdamW moments
            Assert.Equal(Math.Round(16.0 * model.ParameterCount() / 1e6), lines[0].GetProperty("state_mb").GetDouble());
        var kernels = lines.Skip(1).ToList();
        Assert.All(kernels, k => Assert.Equal("train_profile", k.GetProperty("bench").GetString()));
        var total = kernels[^1];
        Assert.Equal("total", total.GetProperty("kernel").GetString());
        Assert.Equal(100, total.GetProperty("percent").GetDouble(), 3);
        var scans = kernels.Single(k => k.GetProperty("kernel").GetString() == "SsdScan");
        Assert.Equal(config.NLayer, scans.GetProperty("calls").GetInt64());          // one forward scan per layer
        Assert.True(scans.GetProperty("bytes_per_call").GetDouble() > 0);
        Assert.True(kernels.Where(k => k.GetProperty("kernel").GetString()!.StartsWith("Gemm.", StringComparison.Ordinal)).All(k => k.GetProperty("flops").GetDouble() > 0));
        Assert.Equal(kernels.Take(kernels.Count - 1).Sum(k => k.GetProperty("calls").GetInt64()), total.GetProperty("calls").GetInt64());
    }
}
