// Console check for the GPU machine (which has a .NET runtime but no SDK to run xUnit): compiles every
// kernel, runs every backend-ops harness case and the CUDA-only checks on cuda:0, optionally the golden fixture
// parity of the AiM and VQ folders under a fixtures root (FixtureParity.cs; the value column is then the relative
// max error), times a few kernels, and prints "case | status | nmse". Exit code 1 when any case fails.
// --decode-perf adds the per-kernel decode-step table (DecodePerf.cs).
// Usage: Aim.Cuda.Check [--compile-only] [--no-perf] [--no-harness] [--cases TEXT] [--decode-perf] [--ssd-perf] [--fixtures ROOT]
//        (--cases TEXT: only the harness cases whose name contains TEXT, no CUDA-only checks; --ssd-perf: only the SSD table)
//        Aim.Cuda.Check --emit-ssd DIR | --emit-sample DIR | --emit-norm-gemm DIR | --emit-conv DIR
//        (no GPU: cases for tests/cuda-emulation, SsdEmit.cs, SampleEmit.cs, NormGemmEmit.cs, ConvEmit.cs)
using System.Diagnostics;
using System.Globalization;
using Aim.BackendOps;
using Aim.Cuda.Check;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Cuda.Tests;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
foreach (string emitOption in new[] { "--emit-ssd", "--emit-sample", "--emit-norm-gemm", "--emit-conv" })
{
    int emitAt = Array.IndexOf(args, emitOption);
    if (emitAt < 0) continue;
    if (emitAt + 1 >= args.Length)
    {
        Console.WriteLine($"{emitOption} needs a folder");
        return 2;
    }
    return emitOption switch
    {
        "--emit-ssd" => SsdEmit.Run(args[emitAt + 1]),
        "--emit-sample" => SampleEmit.Run(args[emitAt + 1]),
        "--emit-norm-gemm" => NormGemmEmit.Run(args[emitAt + 1]),
        _ => ConvEmit.Run(args[emitAt + 1]),
    };
}
bool compileOnly = args.Contains("--compile-only");
// --ssd-perf: only the SSD timing table (no harness, no other tables), e.g. to run under a profiler.
bool ssdPerfOnly = args.Contains("--ssd-perf");
bool perf = !args.Contains("--no-perf") && !ssdPerfOnly;
bool harness = !args.Contains("--no-harness") && !ssdPerfOnly;
int filterAt = Array.IndexOf(args, "--cases");
string? caseFilter = filterAt >= 0 && filterAt + 1 < args.Length ? args[filterAt + 1] : null;
if (filterAt >= 0 && string.IsNullOrEmpty(caseFilter))
{
    Console.WriteLine("--cases needs the text that harness case names must contain");
    return 2;
}
int fixturesAt = Array.IndexOf(args, "--fixtures");
string? fixturesRoot = fixturesAt >= 0 && fixturesAt + 1 < args.Length ? Path.GetFullPath(args[fixturesAt + 1]) : null;
if (fixturesAt >= 0 && (fixturesRoot is null || !Directory.Exists(fixturesRoot)))
{
    Console.WriteLine($"--fixtures needs an existing folder, got '{(fixturesAt + 1 < args.Length ? args[fixturesAt + 1] : "")}'");
    return 2;
}
int failures = 0;

Console.WriteLine($"NVRTC available: {KernelCompiler.IsNvrtcAvailable}");
if (KernelCompiler.IsNvrtcAvailable)
{
    var (major, minor) = KernelCompiler.NvrtcVersion();
    string arch = CudaBackend.IsAvailable ? CudaBackend.For(CudaHarness.Device).Context.Architecture : "sm_90";
    var compiler = new KernelCompiler(arch, Path.Combine(Path.GetTempPath(), "aim-check-" + Environment.ProcessId));
    Console.WriteLine($"NVRTC {major}.{minor}, target {arch}, options: {string.Join(' ', compiler.Options)}");
    // Side by side, as the backend's prefetch compiles them; each file's own time is printed.
    var all = Stopwatch.StartNew();
    var compiled = KernelCompiler.KernelFiles.AsParallel().AsOrdered().WithDegreeOfParallelism(Environment.ProcessorCount).Select(file =>
    {
        var sw = Stopwatch.StartNew();
        try
        {
            byte[] cubin = compiler.CompileSource(file, KernelCompiler.ReadSource(file));
            return (file, ok: true, line: $"{cubin.Length} B cubin in {sw.Elapsed.TotalMilliseconds:F0} ms");
        }
        catch (Aim.Engine.Cuda.Interop.CudaException e)
        {
            return (file, ok: false, line: e.Message);
        }
    }).ToList();
    foreach (var (file, ok, line) in compiled)
    {
        if (!ok) failures++;
        Console.WriteLine($"compile {file,-18} | {(ok ? "pass" : "FAIL")} | {line}");
    }
    Console.WriteLine($"compiled {compiled.Count} files side by side in {all.Elapsed.TotalSeconds:F1} s");
}
foreach (var (name, path) in Aim.Engine.Cuda.Interop.CudaLibraries.LoadedFrom) Console.WriteLine($"library {name}: {path}");
if (compileOnly) return failures == 0 ? 0 : 1;

if (!CudaBackend.IsAvailable)
{
    Console.WriteLine($"CUDA not available: {CudaBackend.UnavailableReason}");
    return 2;
}
var backend = CudaBackend.For(CudaHarness.Device);
var ctx = backend.Context;
Console.WriteLine($"device: {ctx.Name}, sm_{ctx.Major}{ctx.Minor}, {ctx.MultiprocessorCount} SMs, {ctx.TotalMemory >> 20} MiB, driver {ctx.DriverVersion}");

var rows = new List<CudaCaseResult>();
var total = Stopwatch.StartNew();
if (harness && caseFilter is not null)
{
    // Only the backend-ops harness cases whose name contains the text (e.g. one op under a CUDA setting).
    foreach (var c in OpCases.All.Where(c => c.ToString().Contains(caseFilter, StringComparison.Ordinal))) rows.Add(CudaHarness.Run(c));
}
else if (harness)
{
    foreach (var c in OpCases.All) rows.Add(CudaHarness.Run(c));
    foreach (var check in CudaHarness.ExtraChecks()) rows.Add(check());
    foreach (var check in CudaConvChecks.All()) rows.Add(check());
    rows.AddRange(NormFamilyCheck.Bf16Checks());
    rows.AddRange(DecodeChecks.All());
}
if (fixturesRoot is not null) rows.AddRange(FixtureParity.Run(backend, fixturesRoot));
Console.WriteLine();
Console.WriteLine($"{"case",-60} | {"status",-11} | nmse");
foreach (var r in rows)
{
    Console.WriteLine($"{r.Name,-60} | {r.Status,-11} | {(double.IsNaN(r.Nmse) ? "-" : r.Nmse.ToString("E2"))}");
    if (!r.Ok || r.Name.StartsWith("aim ", StringComparison.Ordinal) || r.Name.StartsWith("vq ", StringComparison.Ordinal)) Console.WriteLine($"    {r.Detail}");
}
int pass = rows.Count(r => r.Status == "pass"), unsupported = rows.Count(r => r.Status == "unsupported"), failed = rows.Count(r => !r.Ok);
failures += failed;
Console.WriteLine($"harness + checks + fixtures: {pass} pass, {unsupported} unsupported, {failed} fail in {total.Elapsed.TotalSeconds:F1} s");
if (args.Contains("--decode-perf")) DecodePerf.Run(backend);
if (ssdPerfOnly) CudaPerfSsm.Run(backend);
if (perf)
{
    CudaPerf.Run(backend);
    CudaPerfSsm.Run(backend);
    NormFamilyCheck.Perf(backend);
}
Console.WriteLine($"{pass} passed, {failures} failed");
return failures == 0 ? 0 : 1;
