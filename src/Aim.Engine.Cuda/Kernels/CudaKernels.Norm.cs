// The normalisation family of the contract (IKernels.Norm.cs) on CUDA: RmsNorm, AddRmsNorm, GatedRmsNorm,
// LayerNorm, GroupNorm and their backwards. Formulas are the reference kernels' (ReferenceKernels.Norm.cs);
// kernels in norm.cu. Argument checks are the shared NormChecks, so messages match the CPU backends.
// Float32 and bf16 (bf16 stores, float32 math). Weight/bias gradients are deterministic (fixed-order
// column sums, no atomics).
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

public sealed unsafe partial class CudaKernels
{
    // Row kernels: one block per row (or segment), a multiple of 32 threads with about four elements per
    // thread, from 32 up to MaxRowThreads; the grid strides over rows beyond RowBlocksPerMultiprocessor per SM.
    private const int MaxRowThreads = 512;
    private const int RowBlocksPerMultiprocessor = 64;

    // rms_norm_warp{K}[_vec]_f32 (session 6): the forward of RmsNorm / AddRmsNorm / GatedRmsNorm with one warp per segment,
    // for float32 segments of at most MaxWarpSegment elements when there are at least MinWarpSegments of them (the
    // training: the gated norm, 1536 a row, and AddRmsNorm, 768, at 8192 rows, 50 launches a step). rms_norm (one
    // block per segment, a block reduction with two barriers, 3 blocks of 512 resident) keeps about 3 segments an SM
    // in flight and waits on a barrier chain per segment: 62 µs a launch on the H200, where the bytes moved (gated:
    // x, z read and out written, 8192·1536·12 B = 151 MB; AddRmsNorm: x, res read, out, sum written, 8192·768·16 B =
    // 101 MB) allow 36 and 24 µs at ~4.2 TB/s. Little's law: ~4.8 TB/s × ~1 µs of load latency ≈ 5 MB in flight,
    // ≈ 38 KB an SM. A warp issues all of its segment's loads at once (8·seg bytes: 12 KB gated, 6 KB AddRmsNorm), then
    // reduces with shuffles (no barrier) and writes from registers. ptxas (sm_90) registers a thread, K = float4 chunks
    // a lane (segments ≤ 128·K), vec / scalar: K 2: 41/43, 4: 54/46, 6: 70/55, 8: 88/94, 12: 123/127, 16: 163/159,
    // no spills; so 16 warps an SM at K = 12 (16 × 12 KB = 192 KB in flight), 28 at K = 6 (168 KB): several times the
    // 38 KB needed, with room for warps in their reduction or store phase. K = 16 (2048 elements, 64 values a lane,
    // 160+ registers) is the bound: longer segments would need more than 255 registers or a second read, and take
    // rms_norm. Blocks of WarpRowThreads (4 warps: fine-grained residency); one warp a segment, grid-strided past
    // RowBlocksPerMultiprocessor blocks an SM. Fewer segments (the decode: 2-128 rows) keep rms_norm, which spreads
    // one segment over an SM (a warp per segment would put 128 segments on 32 blocks); bf16, residual and gate together
    // (no caller does that) keep it too. The 16-byte loads and stores need seg % 4 == 0 and every base pointer and
    // row stride 16-byte aligned (WarpVectorised); otherwise the scalar kernel (same arithmetic, lane l holding
    // elements l + 32i).
    private const int WarpRowThreads = 128;
    private const int MaxWarpSegment = 2048;
    private const long MinWarpSegments = 1024;

    // param_grad_partial: PARAM_COLS x PARAM_LANES threads in norm.cu; rows are cut into at most
    // MaxParamChunks chunks of at least MinParamChunkRows, a choice that depends on the shape only.
    private const int ParamCols = 32;
    private const int ParamThreads = 256;
    private const long MaxParamChunks = 128;
    private const long MinParamChunkRows = 64;

    // rms_norm_backward_wgrad (the RMS backwards with the weight gradient's partial sums in the same pass): one block per
    // chunk of at least MinFusedChunkRows rows, at most MaxFusedChunks chunks (about 8 blocks per SM of an H200 at
    // 8192 rows: enough resident threads to keep the loads in flight), a d-float column accumulator in dynamic shared
    // memory, so d up to MaxFusedColumns (47 KiB: with the block reduction's static slots under the 48 KiB a launch may
    // use without opting in); wider rows take rms_norm_backward + param_grad_partial.
    // The chunking depends on the shape only.
    private const long MaxFusedChunks = 1024;
    private const long MinFusedChunkRows = 4;
    private const int MaxFusedColumns = 12032;

    // rms_norm_backward_rows{K}[_vec]_f32 (session 7): the RMS backwards with the weight gradient for float32 rows of one
    // segment (RmsNorm, AddRmsNorm; GatedRmsNorm with one group: the training's gated norm, 1536, and AddRmsNorm, 768, at 8192
    // rows, 50 launches a step). The bytes (gated: x, z, dy read, dx, dz written, 8192·1536·20 B = 252 MB; AddRmsNorm: x, dy,
    // extra, dx, 101 MB; without extra 75 MB) allow ≈ 61 and 18-25 µs at ~4.1 TB/s. Session 6's kernel (a warp a row, a lane
    // holding 16·K values: 242 registers at 1536) ran 122 µs (gated) and 32 µs (AddRmsNorm, K = 6) on the H200: 8 and 12 warps
    // an SM, issue-latency bound (ncu: 12% occupancy, 39% of DRAM bandwidth, "fixed latency" stalls). Now a row is spread
    // over ⌈seg / 256⌉ warps (a team; gated 6, AddRmsNorm 3), each thread holding K ≤ 2 float4 chunks of x, dy, z or extra
    // and its columns' weight-gradient sums; the team's two row sums meet in shared memory (one barrier a row). ptxas
    // (sm_90, NVRTC 11.8) registers vec / scalar, no spills: K 1: 61/68, 2: 64/80 (launch bounds 256 × 4 vec, × 3 scalar),
    // so 30 warps an SM at 192-thread blocks (5 resident), 32 at 256; in flight an SM up to 30 × 3 KB = 90 KB of loads,
    // ~2.4× Little's law's 38 KB. Blocks hold as many teams as fit in BackwardRowsThreads (gated: 1 team of 192 threads,
    // AddRmsNorm: 2 teams of 96) and take a chunk of rows each: at most 128 · resident chunks (resident from the vec forms'
    // 64 registers: one wave on 132 SMs), at least a row a team; the teams' column sums are added in team order at the end
    // (one partial row a block, param_grad_finish as before). Groups (several segments a row), bf16 and fewer than
    // MinWarpSegments rows (the block kernel spreads a row over an SM) keep rms_norm_backward_wgrad. BackwardRowsThreads is
    // norm.cu's RMS_BWD_THREADS (its row-sum slots hold 8 warps), so MaxBackwardRowsSegment may grow to 256 · 8 = 2048.
    private const int BackwardRowsThreads = 256;
    private const int BackwardRowsRegisters = 64;
    private const int MaxBlocksPerMultiprocessor = 32;
    private const int MaxBackwardRowsSegment = 1536;

    // param_grad_finish: FINISH_COLS x FINISH_LANES threads in norm.cu.
    private const int FinishCols = 8;
    private const int FinishThreads = 512;

    /// <summary>Threads per block for a reduction over <paramref name="n"/> elements.</summary>
    internal static uint RowThreads(long n)
    {
        long t = 32;
        while (t < MaxRowThreads && t * 4 < n) t *= 2;
        return (uint)t;
    }

    /// <summary>Blocks for <paramref name="rows"/> block-per-row work items (grid-strided beyond the cap).</summary>
    internal uint RowGrid(long rows) => (uint)Math.Max(1, Math.Min(rows, (long)_backend.Context.MultiprocessorCount * RowBlocksPerMultiprocessor));

    /// <summary>Device pointer, or 0 for an absent optional tensor (shared by every family's wrappers).</summary>
    private static ulong PtrOrNull(Tensor? t) => t is null ? 0UL : Ptr(t);

    /// <summary>Checks that every present tensor is on this device (shared by every family's wrappers).</summary>
    private void OnDeviceAll(string op, params ReadOnlySpan<Tensor?> tensors)
    {
        foreach (var t in tensors)
            if (t is not null) OnDevice(op, t);
    }

    /// <inheritdoc />
    public void RmsNorm(Tensor x, Tensor weight, double eps, Tensor output)
    {
        OnDeviceAll(nameof(RmsNorm), x, weight, output);
        int d = NormChecks.Rows(nameof(RmsNorm), x, [output], [weight]);
        FloatCompute(nameof(RmsNorm), x.DType);
        LaunchRmsNorm(x, null, null, weight, eps, d, d, output, null);
    }

    /// <inheritdoc />
    public void AddRmsNorm(Tensor hidden, Tensor? residual, Tensor weight, double eps, Tensor normed, Tensor residualOut)
    {
        OnDeviceAll(nameof(AddRmsNorm), hidden, residual, weight, normed, residualOut);
        int d = NormChecks.Rows(nameof(AddRmsNorm), hidden, [residual, normed, residualOut], [weight]);
        FloatCompute(nameof(AddRmsNorm), hidden.DType);
        LaunchRmsNorm(hidden, residual, null, weight, eps, d, d, normed, residualOut);
    }

    /// <inheritdoc />
    /// <remarks>Float32 only (NotSupportedException otherwise): the decode keeps its residual stream in float32.</remarks>
    public void ModulatedAddRmsNorm(Tensor hidden, Tensor? gate, Tensor? residual, Tensor weight, double eps, Tensor scalePlusOne, Tensor shift,
        Tensor normed, Tensor residualOut)
    {
        const string op = nameof(ModulatedAddRmsNorm);
        OnDeviceAll(op, hidden, gate, residual, weight, scalePlusOne, shift, normed, residualOut);
        int d = NormChecks.Modulated(op, hidden, gate, residual, weight, scalePlusOne, shift, normed, residualOut);
        if (hidden.DType != DType.Float32) throw KernelChecks.Unsupported(op, Name, hidden.DType);
        if (d == 0 || hidden.Count == 0) return;
        LaunchModulatedAddRmsNorm(hidden, gate, residual, weight, eps, scalePlusOne, shift, d, hidden.Count / d, normed, residualOut);
    }

    // norm.cu's mod_add_rms_norm_f32, or its _bf16 form when normed is bf16 (MambaDecodeLayer's cuBLAS form): rows of d.
    // scalePlusOne and shift may be null (no modulation), residualOut too when gate and residual are (a plain RMSNorm).
    private void LaunchModulatedAddRmsNorm(Tensor hidden, Tensor? gate, Tensor? residual, Tensor weight, double eps, Tensor? scalePlusOne,
        Tensor? shift, int d, long rows, Tensor normed, Tensor? residualOut)
    {
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[16]);
        args.Add(Ptr(hidden));
        args.Add(PtrOrNull(gate));
        args.Add(PtrOrNull(residual));
        args.Add(Ptr(weight));
        args.Add((float)eps);
        args.Add(PtrOrNull(scalePlusOne));
        args.Add(PtrOrNull(shift));
        args.Add(d);
        args.Add(rows);
        args.Add(Ptr(normed));
        args.Add(PtrOrNull(residualOut));
        string kernel = normed.DType == DType.BFloat16 ? "mod_add_rms_norm_f32_bf16" : "mod_add_rms_norm_f32";
        Launch(Function("norm.cu", kernel), RowGrid(rows), RowThreads(d), 0, args);
    }

    /// <inheritdoc />
    public void GatedRmsNorm(Tensor x, Tensor z, Tensor weight, double eps, int groupSize, Tensor output)
    {
        OnDeviceAll(nameof(GatedRmsNorm), x, z, weight, output);
        int d = NormChecks.GatedRows(nameof(GatedRmsNorm), x, z, groupSize, [output], [weight]).D;
        FloatCompute(nameof(GatedRmsNorm), x.DType);
        LaunchRmsNorm(x, null, z, weight, eps, groupSize, d, output, null);
    }

    // rms_norm over segments of `seg` elements (d / seg per row of d). x and z are contiguous, or (GatedRmsNorm,
    // GatedRmsNormMatMul's composition) row views (NormChecks.RowStride) whose rows rms_norm reads at their row stride.
    private void LaunchRmsNorm(Tensor x, Tensor? residual, Tensor? z, Tensor weight, double eps, int seg, int d, Tensor output, Tensor? residualOut)
    {
        if (d == 0 || x.Count == 0) return;
        long segments = x.Count / seg;
        long xStride = NormChecks.RowStride("rms_norm", "x", x);
        long zStride = z is null ? d : NormChecks.RowStride("rms_norm", "z", z);
        var args = new KernelArgs(stackalloc byte[160], stackalloc nint[16]);
        args.Add(Ptr(x));
        args.Add(xStride);
        args.Add(PtrOrNull(residual));
        args.Add(PtrOrNull(z));
        args.Add(zStride);
        args.Add(Ptr(weight));
        args.Add((float)eps);
        args.Add(seg);
        args.Add(d / seg);
        args.Add(segments);
        args.Add(Ptr(output));
        args.Add(PtrOrNull(residualOut));
        if (WarpPath(x.DType, seg, segments, residual is not null && z is not null))
        {
            bool vec = WarpVectorised(seg, xStride, zStride, Ptr(x), PtrOrNull(residual), PtrOrNull(z), Ptr(weight), Ptr(output), PtrOrNull(residualOut));
            uint blocks = (uint)Math.Min((segments + WarpRowThreads / 32 - 1) / (WarpRowThreads / 32),
                (long)_backend.Context.MultiprocessorCount * RowBlocksPerMultiprocessor);
            string name = $"rms_norm_warp{WarpChunks(seg)}{(vec ? "_vec" : "")}_f32";
            Launch(Function("norm.cu", name), blocks, WarpRowThreads, 0, args);
            return;
        }
        Launch(Function("norm.cu", $"rms_norm_{Suffix(x.DType)}"), RowGrid(segments), RowThreads(seg), 0, args);
    }

    /// <summary>Whether the RMSNorm forward over <paramref name="segments"/> segments of <paramref name="seg"/> elements takes
    /// rms_norm_warp (one warp a segment) rather than rms_norm (one block a segment).</summary>
    internal static bool WarpPath(DType dtype, int seg, long segments, bool residualAndGate)
        => dtype == DType.Float32 && seg <= MaxWarpSegment && segments >= MinWarpSegments && !residualAndGate;

    /// <summary>float4 chunks a lane of the rms_norm_warp kernel for segments of <paramref name="seg"/> ≤ MaxWarpSegment elements
    /// (the instantiations in norm.cu: 2, 4, 6, 8, 12, 16).</summary>
    internal static int WarpChunks(int seg)
    {
        int k = (seg + 127) / 128;
        return k <= 2 ? 2 : k <= 4 ? 4 : k <= 6 ? 6 : k <= 8 ? 8 : k <= 12 ? 12 : 16;
    }

    /// <summary>Whether rms_norm_warp may use 16-byte loads and stores: whole float4 groups (seg % 4 == 0), row strides of whole
    /// float4s and every present base pointer (0 = absent) 16-byte aligned.</summary>
    internal static bool WarpVectorised(int seg, long xStride, long zStride, params ReadOnlySpan<ulong> pointers)
    {
        if (seg % 4 != 0 || xStride % 4 != 0 || zStride % 4 != 0) return false;
        foreach (ulong p in pointers)
            if (p % 16 != 0) return false;
        return true;
    }

    /// <summary>Whether the RMS backward over <paramref name="rows"/> rows of <paramref name="segsPerRow"/> segments of
    /// <paramref name="seg"/> elements takes rms_norm_backward_rows (a few warps a row) rather than rms_norm_backward_wgrad.</summary>
    internal static bool BackwardRowsPath(DType dtype, int seg, int segsPerRow, long rows)
        => dtype == DType.Float32 && segsPerRow == 1 && rows >= MinWarpSegments && seg <= MaxBackwardRowsSegment;

    /// <summary>The launch of rms_norm_backward_rows{<see cref="Chunks"/>} for rows of seg elements: <see cref="WarpsPerRow"/>
    /// warps a row, <see cref="Threads"/> threads a block (its teams of 32·WarpsPerRow threads go over the block's rows
    /// in lock step), <see cref="RowsPerChunk"/> rows a block.</summary>
    internal readonly record struct BackwardRowsPlan(int WarpsPerRow, int Chunks, int Threads, long RowsPerChunk);

    /// <summary>BackwardRowsPlan for <paramref name="rows"/> rows of <paramref name="seg"/> ≤ MaxBackwardRowsSegment elements:
    /// ⌈seg / 256⌉ warps a row, K = ⌈seg / (128 · warps)⌉ ≤ 2 float4 chunks a thread, as many teams as fit in
    /// BackwardRowsThreads threads, and rows cut into at most 128 · resident chunks (resident: blocks an SM at the 16-byte
    /// forms' 64 registers) of at least a row a team. Depends on the shape only (not on the 16-byte rule), so the weight
    /// gradient's bits do not depend on alignment.</summary>
    internal static BackwardRowsPlan BackwardRowsPlanFor(int seg, long rows)
    {
        int warps = Math.Max(1, (seg + 255) / 256);
        int k = Math.Max(1, (seg + 128 * warps - 1) / (128 * warps));
        int teams = Math.Max(1, BackwardRowsThreads / (32 * warps));
        int threads = 32 * warps * teams;
        int resident = Math.Min(MaxBlocksPerMultiprocessor, 65536 / (threads * BackwardRowsRegisters));
        long cap = 128L * resident;
        return new BackwardRowsPlan(warps, k, threads, Math.Max(teams, (rows + cap - 1) / cap));
    }

    /// <inheritdoc />
    public void RmsNormBackward(Tensor x, Tensor weight, Tensor dOutput, double eps, Tensor dX, Tensor dWeight)
    {
        OnDeviceAll(nameof(RmsNormBackward), x, weight, dOutput, dX, dWeight);
        int d = NormChecks.Rows(nameof(RmsNormBackward), x, [dOutput, dX], [weight, dWeight]);
        FloatCompute(nameof(RmsNormBackward), x.DType);
        LaunchRmsNormBackward(x, null, weight, dOutput, null, eps, d, d, dX, null, dWeight);
    }

    /// <inheritdoc />
    public void AddRmsNormBackward(Tensor residualOut, Tensor weight, Tensor dNormed, Tensor? dResidualOut, double eps, Tensor dSum, Tensor dWeight)
    {
        OnDeviceAll(nameof(AddRmsNormBackward), residualOut, weight, dNormed, dResidualOut, dSum, dWeight);
        int d = NormChecks.Rows(nameof(AddRmsNormBackward), residualOut, [dNormed, dResidualOut, dSum], [weight, dWeight]);
        FloatCompute(nameof(AddRmsNormBackward), residualOut.DType);
        LaunchRmsNormBackward(residualOut, null, weight, dNormed, dResidualOut, eps, d, d, dSum, null, dWeight);
    }

    /// <inheritdoc />
    public void GatedRmsNormBackward(Tensor x, Tensor z, Tensor weight, Tensor dOutput, double eps, int groupSize, Tensor dX, Tensor dZ, Tensor dWeight)
    {
        OnDeviceAll(nameof(GatedRmsNormBackward), x, z, weight, dOutput, dX, dZ, dWeight);
        int d = NormChecks.GatedRows(nameof(GatedRmsNormBackward), x, z, groupSize, [dOutput, dX], [weight, dWeight]).D;
        NormChecks.OutputRows(nameof(GatedRmsNormBackward), "dZ", dZ, x);
        FloatCompute(nameof(GatedRmsNormBackward), x.DType);
        LaunchRmsNormBackward(x, z, weight, dOutput, null, eps, groupSize, d, dX, dZ, dWeight);
    }

    // rms_norm_backward_rows (BackwardRowsPath: float32 rows of one segment, many of them) or rms_norm_backward_wgrad (dx, dz
    // and per-chunk weight-gradient sums in one pass over x, z and dy), then param_grad_finish over the chunks; rows wider
    // than MaxFusedColumns: rms_norm_backward (dx, dz, per-segment rstd), then the weight gradient from the saved rstd
    // (LaunchParamGrad). x and z are contiguous or (GatedRmsNormBackward)
    // row views read at their row strides, and dZ may be a row view (written in place on the rows path, through a buffer
    // on the others); the other tensors are contiguous.
    private void LaunchRmsNormBackward(Tensor x, Tensor? z, Tensor weight, Tensor dOutput, Tensor? extra, double eps, int seg, int d,
        Tensor dX, Tensor? dZ, Tensor dWeight)
    {
        if (d == 0) return;
        long rows = x.Count / d;
        if (rows == 0)
        {
            Fill(0, dWeight);
            return;
        }
        long segments = x.Count / seg;
        string sfx = Suffix(x.DType);
        long xStride = NormChecks.RowStride("rms_norm_backward", "x", x);
        long zStride = z is null ? d : NormChecks.RowStride("rms_norm_backward", "z", z);
        long dzStride = dZ is null ? d : NormChecks.RowStride("rms_norm_backward", "dZ", dZ);
        bool vec = WarpVectorised(seg, xStride, zStride, Ptr(x), PtrOrNull(z), Ptr(weight), Ptr(dOutput), PtrOrNull(extra), Ptr(dX), PtrOrNull(dZ))
            && dzStride % 4 == 0;
        // The arguments every RMS backward starts with: inputs, eps and the segment.
        void AddBackwardInputs(ref KernelArgs a)
        {
            a.Add(Ptr(x));
            a.Add(xStride);
            a.Add(PtrOrNull(z));
            a.Add(zStride);
            a.Add(Ptr(weight));
            a.Add(Ptr(dOutput));
            a.Add(PtrOrNull(extra));
            a.Add((float)eps);
            a.Add(seg);
        }
        // The arguments the row-chunked backwards share (rms_norm_backward_rows*, which also takes the warps a row, and
        // rms_norm_backward_wgrad, which also takes the segments a row): the inputs above, rows, the chunking, outputs
        // and the weight-gradient partials.
        void AddChunkedBackwardArgs(ref KernelArgs a, int? segsPerRow, long rowsPerChunk, Tensor partial, int? warpsPerRow = null)
        {
            AddBackwardInputs(ref a);
            if (segsPerRow is int spr) a.Add(spr);
            a.Add(rows);
            a.Add(rowsPerChunk);
            if (warpsPerRow is int wpr) a.Add(wpr);
            a.Add(Ptr(dX));
            a.Add(PtrOrNull(dZ));
            if (warpsPerRow is not null) a.Add(dzStride);     // rms_norm_backward_rows only
            a.Add(Ptr(partial));
        }
        if (BackwardRowsPath(x.DType, seg, d / seg, rows))
        {
            var plan = BackwardRowsPlanFor(seg, rows);
            long chunks = (rows + plan.RowsPerChunk - 1) / plan.RowsPerChunk;
            using var partial = Tensor.Empty([checked((int)(chunks * d))], DType.Float32, x.Device);
            var team = new KernelArgs(stackalloc byte[160], stackalloc nint[16]);
            AddChunkedBackwardArgs(ref team, segsPerRow: null, plan.RowsPerChunk, partial, plan.WarpsPerRow);
            string name = $"rms_norm_backward_rows{plan.Chunks}{(vec ? "_vec" : "")}_f32";
            Launch(Function("norm.cu", name), checked((uint)chunks), (uint)plan.Threads, (uint)(d * sizeof(float)), team);
            LaunchParamFinish(partial, chunks, 1, d, dWeight, null, sfx);
            return;
        }
        if (dZ is { IsContiguous: false })
        {
            // Only rms_norm_backward_rows writes dz at its own row stride: the other paths write a buffer, copied to the view.
            using var dense = TensorScope.Detach(Tensor.Empty(dZ.Shape, dZ.DType, dZ.Device));
            LaunchRmsNormBackward(x, z, weight, dOutput, extra, eps, seg, d, dX, dense, dWeight);
            Copy(dense, dZ);
            return;
        }
        if (d <= MaxFusedColumns)
        {
            long rowsPerChunk = Math.Max(MinFusedChunkRows, (rows + MaxFusedChunks - 1) / MaxFusedChunks);
            long chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
            using var partial = Tensor.Empty([checked((int)(chunks * d))], DType.Float32, x.Device);
            var fused = new KernelArgs(stackalloc byte[160], stackalloc nint[16]);
            AddChunkedBackwardArgs(ref fused, segsPerRow: d / seg, rowsPerChunk, partial);
            Launch(Function("norm.cu", $"rms_norm_backward_wgrad_{sfx}"), checked((uint)chunks), RowThreads(seg), (uint)(d * sizeof(float)), fused);
            LaunchParamFinish(partial, chunks, 1, d, dWeight, null, sfx);
            return;
        }
        using var stats = Tensor.Empty([checked((int)segments)], DType.Float32, x.Device);
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[16]);
        AddBackwardInputs(ref args);
        args.Add(d / seg);
        args.Add(segments);
        args.Add(Ptr(dX));
        args.Add(PtrOrNull(dZ));
        args.Add(Ptr(stats));
        Launch(Function("norm.cu", $"rms_norm_backward_{sfx}"), RowGrid(segments), RowThreads(seg), 0, args);
        LaunchParamGrad(0, x, z, dOutput, stats, rows, d, seg, dWeight, null);
    }

    // Deterministic column sums over rows: param_grad_partial per chunk of rows, param_grad_finish over chunks.
    private void LaunchParamGrad(int mode, Tensor x, Tensor? z, Tensor dOutput, Tensor stats, long rows, int d, int seg, Tensor? out0, Tensor? out1)
    {
        long rowsPerChunk = Math.Max(MinParamChunkRows, (rows + MaxParamChunks - 1) / MaxParamChunks);
        long chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
        int colBlocks = (d + ParamCols - 1) / ParamCols;
        string sfx = Suffix(x.DType);
        using var partial = Tensor.Empty([checked((int)(chunks * 2 * d))], DType.Float32, x.Device);
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[16]);
        args.Add(mode);
        args.Add(Ptr(x));
        args.Add(NormChecks.RowStride("param_grad_partial", "x", x));
        args.Add(PtrOrNull(z));
        args.Add(z is null ? d : NormChecks.RowStride("param_grad_partial", "z", z));
        args.Add(Ptr(dOutput));
        args.Add(Ptr(stats));
        args.Add(rows);
        args.Add(d);
        args.Add(seg);
        args.Add(d / seg);
        args.Add(rowsPerChunk);
        args.Add(colBlocks);
        args.Add(Ptr(partial));
        Launch(Function("norm.cu", $"param_grad_partial_{sfx}"), checked((uint)(colBlocks * chunks)), ParamThreads, 0, args);
        LaunchParamFinish(partial, chunks, 2, d, out0, out1, sfx);
    }

    // param_grad_finish over partial ([chunks][planes][d]): one block per FinishCols columns.
    private void LaunchParamFinish(Tensor partial, long chunks, int planes, int d, Tensor? out0, Tensor? out1, string sfx)
    {
        var args = new KernelArgs(stackalloc byte[64], stackalloc nint[8]);
        args.Add(Ptr(partial));
        args.Add(chunks);
        args.Add(planes);
        args.Add(d);
        args.Add(PtrOrNull(out0));
        args.Add(PtrOrNull(out1));
        Launch(Function("norm.cu", $"param_grad_finish_{sfx}"), (uint)((d + FinishCols - 1) / FinishCols), FinishThreads, 0, args);
    }

    /// <inheritdoc />
    public void LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps, Tensor output)
    {
        OnDeviceAll(nameof(LayerNorm), x, weight, bias, output);
        int d = NormChecks.Rows(nameof(LayerNorm), x, [output], [weight, bias]);
        FloatCompute(nameof(LayerNorm), x.DType);
        if (d == 0 || x.Count == 0) return;
        long rows = x.Count / d;
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[8]);
        args.Add(Ptr(x));
        args.Add(PtrOrNull(weight));
        args.Add(PtrOrNull(bias));
        args.Add((float)eps);
        args.Add(d);
        args.Add(rows);
        args.Add(Ptr(output));
        Launch(Function("norm.cu", $"layer_norm_{Suffix(x.DType)}"), RowGrid(rows), RowThreads(d), 0, args);
    }

    /// <inheritdoc />
    public void LayerNormBackward(Tensor x, Tensor? weight, Tensor dOutput, double eps, Tensor dX, Tensor? dWeight, Tensor? dBias)
    {
        OnDeviceAll(nameof(LayerNormBackward), x, weight, dOutput, dX, dWeight, dBias);
        int d = NormChecks.Rows(nameof(LayerNormBackward), x, [dOutput, dX], [weight, dWeight, dBias]);
        FloatCompute(nameof(LayerNormBackward), x.DType);
        if (d == 0) return;
        long rows = x.Count / d;
        if (rows == 0)
        {
            if (dWeight is not null) Fill(0, dWeight);
            if (dBias is not null) Fill(0, dBias);
            return;
        }
        using var stats = Tensor.Empty([checked((int)(2 * rows))], DType.Float32, x.Device);
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[8]);
        args.Add(Ptr(x));
        args.Add(PtrOrNull(weight));
        args.Add(Ptr(dOutput));
        args.Add((float)eps);
        args.Add(d);
        args.Add(rows);
        args.Add(Ptr(dX));
        args.Add(Ptr(stats));
        Launch(Function("norm.cu", $"layer_norm_backward_{Suffix(x.DType)}"), RowGrid(rows), RowThreads(d), 0, args);
        if (dWeight is not null || dBias is not null) LaunchParamGrad(1, x, null, dOutput, stats, rows, d, d, dWeight, dBias);
    }

    /// <inheritdoc />
    public void GroupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps, Tensor output)
    {
        OnDeviceAll(nameof(GroupNorm), x, weight, bias, output);
        var (n, c, s) = NormChecks.Groups(nameof(GroupNorm), x, groups, [output], [weight, bias]);
        FloatCompute(nameof(GroupNorm), x.DType);
        if (x.Count == 0) return;
        int cg = c / groups;
        long segments = (long)n * groups;
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[12]);
        args.Add(Ptr(x));
        args.Add(Ptr(weight));
        args.Add(Ptr(bias));
        args.Add((float)eps);
        args.Add(groups);
        args.Add(cg);
        args.Add(s);
        args.Add(segments);
        args.Add(Ptr(output));
        Launch(Function("norm.cu", $"group_norm_{Suffix(x.DType)}"), RowGrid(segments), RowThreads(cg * s), 0, args);
    }

    /// <inheritdoc />
    public void GroupNormBackward(Tensor x, int groups, Tensor weight, Tensor dOutput, double eps, Tensor dX, Tensor dWeight, Tensor dBias)
    {
        OnDeviceAll(nameof(GroupNormBackward), x, weight, dOutput, dX, dWeight, dBias);
        var (n, c, s) = NormChecks.Groups(nameof(GroupNormBackward), x, groups, [dOutput, dX], [weight, dWeight, dBias]);
        FloatCompute(nameof(GroupNormBackward), x.DType);
        if (c == 0) return;
        if (x.Count == 0)
        {
            Fill(0, dWeight);
            Fill(0, dBias);
            return;
        }
        int cg = c / groups;
        long segments = (long)n * groups;
        using var partial = Tensor.Empty([checked(n * 2 * c)], DType.Float32, x.Device);
        var args = new KernelArgs(stackalloc byte[128], stackalloc nint[12]);
        args.Add(Ptr(x));
        args.Add(Ptr(weight));
        args.Add(Ptr(dOutput));
        args.Add((float)eps);
        args.Add(groups);
        args.Add(cg);
        args.Add(s);
        args.Add(segments);
        args.Add(Ptr(dX));
        args.Add(Ptr(partial));
        Launch(Function("norm.cu", $"group_norm_backward_{Suffix(x.DType)}"), RowGrid(segments), RowThreads(cg * s), 0, args);
        LaunchParamFinish(partial, n, 2, c, dWeight, dBias, Suffix(x.DType));
    }
}
