// The SSD selective scan over whole sequences on CUDA (IKernels.SsdScan / SsdScanBackward), float32 storage: the
// chunked forward (ssd.cu) and the chunked backward (ssd_backward.cu), their matrix products on fp32 FMAs by default or on the
// tensor cores (SsdMath: 3xTF32 on request; plain TF32 under AllowTf32 or a bf16 Autocast scope; FMAs before sm_80), and the older serial
// backward, kept for empty sizes and selectable for comparison. Formulas: aim-architecture.md §3.5 and the derivation at the top of ssd_backward.cu's
// chunked backward.
using Aim.Engine.Autograd;
using Aim.Engine.Cuda.Runtime;
using Aim.Engine.Kernels;
using Aim.Engine.Tensors;

namespace Aim.Engine.Cuda.Kernels;

/// <summary>How the SSD scan kernels compute their in-chunk matrix products (the engine of ssd_tiles.cuh).</summary>
public enum SsdMatrixMath
{
    /// <summary>Float32 FMAs on the CUDA cores.</summary>
    Float32Fma = 0,

    /// <summary>One TF32 tensor-core product per tile (the operands' 10-bit mantissas, truncated; float32 accumulation).</summary>
    Tf32 = 1,

    /// <summary>Operands split into TF32 hi + lo, three tensor-core products (hi·hi + hi·lo + lo·hi): about float32 accuracy.</summary>
    SplitTf32 = 3,
}

public sealed unsafe partial class CudaKernels
{
    /// <summary>The longest chunk the SSD kernels run (SSD_VEC in ssd_tiles.cuh: a chunk's cs and dt are staged in shared memory).</summary>
    public const int SsdMaxChunk = 256;

    private const int SsdTile = 64;           // SSD_TM / SSD_TN in ssd_tiles.cuh
    private const int SsdThreads = 256;       // SSD_THREADS
    private const int SsdScalarThreads = 128; // SSD_SCALAR_THREADS
    private const int SsdWalkWarps = 8;       // SSD_WALK_WARPS (the chunk-state walkers' warps)
    private const int SsdBwdThreads = 256;    // BWD_THREADS (serial backward)
    private const int SsdBwdMaxP = 64;        // BWD_WARPS · BWD_RP (serial backward)
    private const int SsdBwdMaxN = 128;       // 32 · BWD_RN (serial backward)
    private const int ArgCount = 32;          // kernel arguments at most (8 bytes each once aligned)
    private const int ArgBytes = ArgCount * 8;

    /// <summary>
    /// The SSD scan's matrix-product engine when float32 products are asked for (no <see cref="AllowTf32"/>, no
    /// autocast): default <see cref="SsdMatrixMath.Float32Fma"/>, the exact one. Under <see cref="AllowTf32"/> or
    /// a bf16 <see cref="Autocast"/> scope the scan runs <see cref="SsdMatrixMath.Tf32"/> whatever this says (the
    /// original runs these products in bf16 under autocast; TF32 keeps two more mantissa bits), the fastest engine
    /// on the H200 since its fragments come from ldmatrix and its operands are not rounded first (AiM-B batch 32,
    /// backward with saved states: FMA 1.17 ms, SplitTf32 1.26, Tf32 0.89; forward at chunk 64: 0.40 / 0.41 / 0.29).
    /// Devices before sm_80 (no TF32 tensor cores) use FMAs.
    /// </summary>
    public SsdMatrixMath SsdMath { get; set; } = SsdMatrixMath.Float32Fma;

    /// <summary>Runs the serial (per batch and head, reverse-time) backward instead of the chunked one. Default false.</summary>
    public bool SsdSerialBackward { get; set; }

    /// <summary>The chunk length of the chunked backward (any chunk gives the same gradients; 64 is one tile).</summary>
    public int SsdBackwardChunk { get; set; } = 64;

    /// <summary>The engine the SSD kernels get: see <see cref="SsdMath"/>.</summary>
    private int SsdMatrixMode
        => _backend.Context.Major < 8 ? (int)SsdMatrixMath.Float32Fma
         : AllowTf32 || Autocast.IsEnabled ? (int)SsdMatrixMath.Tf32
         : (int)SsdMath;

    /// <inheritdoc />
    public void SsdScan(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState, int chunkSize, Tensor y, Tensor finalState, Tensor? chunkStates)
    {
        const string op = nameof(SsdScan);
        OnDeviceAll(op, x, dt, a, b, c, d, initialState, y, finalState, chunkStates);
        var s = SsmChecks.Scan(op, x, dt, a, b, c, d, initialState);
        if (chunkSize < 1) throw new ArgumentException($"{op}: chunkSize must be positive, got {chunkSize}");
        F32(op, x);
        Out(op, "y", y, s.B, s.L, s.H, s.P);
        Out(op, "finalState", finalState, s.B, s.H, s.P, s.N);
        if (chunkStates is not null)
        {
            SsmChecks.ChunkStates(op, s, x, chunkStates, chunkSize);
            if (ChunkWork.StatesChunk(s.L, chunkSize) != ChunkWork.EffectiveChunk(s.L, chunkSize))
                throw new NotSupportedException($"{op}: the CUDA scan runs chunks of at most {SsdMaxChunk} steps, so it cannot keep chunk states for chunkSize={chunkSize} at L={s.L}");
        }
        if (s.B == 0 || s.H == 0 || s.P == 0 || s.N == 0) return;
        // The state pass leaves S_in[c] in the workspace's states: with chunkStates they are written there directly.
        using var w = new ChunkWork(s, chunkSize, x.Device, chunkStates);
        ChunkStates(x, dt, a, b, c, initialState, s, w, finalState);
        if (w.Chunks == 0) return;
        int tq = Tiles(w.Q), tp = Tiles(s.P);
        var k = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
        AddStrided(ref k, x, 3);
        k.Add(Ptr(dt));
        AddStrided(ref k, c, 3);
        k.Add(PtrOrNull(d));
        k.Add(Ptr(w.Cb));
        k.Add(Ptr(w.Cs));
        k.Add(Ptr(w.States));
        k.Add(initialState is null ? 0 : 1);
        k.Add(Ptr(y));
        AddDims(ref k, s.B, s.L, s.H, s.G, s.P, s.N, w.Q, w.Chunks);
        Launch(Function("ssd.cu", "ssd_chunk_scan_" + EngineSuffix(SsdMatrixMode)), Grid(w.Bhc * tq * tp), SsdThreads, 0, k);
    }

    /// <inheritdoc />
    /// <remarks>The chunked backward's chunk size, <see cref="SsdBackwardChunk"/>; 0 (never read) under <see cref="SsdSerialBackward"/>.</remarks>
    public int SsdScanStatesChunk => SsdSerialBackward ? 0 : SsdBackwardChunk;

    /// <inheritdoc />
    public void SsdScanBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
        Tensor dY, Tensor? dFinalState, Tensor? chunkStates, int statesChunk, Tensor dX, Tensor dDt, Tensor dA, Tensor dB, Tensor dC, Tensor? dD, Tensor? dInitialState)
    {
        const string op = nameof(SsdScanBackward);
        OnDeviceAll(op, x, dt, a, b, c, d, initialState, dY, dFinalState, chunkStates, dX, dDt, dA, dB, dC, dD, dInitialState);
        var s = SsmChecks.Scan(op, x, dt, a, b, c, d, initialState);
        F32(op, x);
        if (chunkStates is not null) SsmChecks.ChunkStates(op, s, x, chunkStates, statesChunk);
        Out(op, "dY", dY, s.B, s.L, s.H, s.P);
        if (dFinalState is not null) Out(op, "dFinalState", dFinalState, s.B, s.H, s.P, s.N);
        SsmChecks.OutputView(op, "dX", dX, x, s.B, s.L, s.H, s.P);
        Out(op, "dDt", dDt, s.B, s.L, s.H);
        Out(op, "dA", dA, s.H);
        SsmChecks.OutputView(op, "dB", dB, x, s.B, s.L, s.G, s.N);
        SsmChecks.OutputView(op, "dC", dC, x, s.B, s.L, s.G, s.N);
        if (dD is not null) Out(op, "dD", dD, s.H);
        if (dInitialState is not null) Out(op, "dInitialState", dInitialState, s.B, s.H, s.P, s.N);
        if (s.H == 0) return;
        // Empty sequences, states or batches take the serial kernel, which handles every degenerate size.
        if (SsdSerialBackward || s.B == 0 || s.L == 0 || s.P == 0 || s.N == 0)
        {
            // The serial kernel writes dense dX, dB, dC: views (the tape's slots) get them through buffers.
            using var denseX = dX.IsContiguous ? null : TensorScope.Detach(Tensor.Empty(dX.Shape, DType.Float32, dX.Device));
            using var denseB = dB.IsContiguous ? null : TensorScope.Detach(Tensor.Empty(dB.Shape, DType.Float32, dB.Device));
            using var denseC = dC.IsContiguous ? null : TensorScope.Detach(Tensor.Empty(dC.Shape, DType.Float32, dC.Device));
            SerialBackward(op, x, dt, a, b, c, d, initialState, dY, dFinalState, denseX ?? dX, dDt, dA, denseB ?? dB, denseC ?? dC, dD, dInitialState, s);
            if (denseX is not null) Copy(denseX, dX);
            if (denseB is not null) Copy(denseB, dB);
            if (denseC is not null) Copy(denseC, dC);
        }
        else
            ChunkedBackward(x, dt, a, b, c, d, initialState, dY, dFinalState, chunkStates, statesChunk, dX, dDt, dA, dB, dC, dD, dInitialState, s);
    }

    /// <summary>
    /// The forward's chunk workspace: cs and w (B, H, L), CB (B, G, nc, Q, Q), states (B, H, nc, P, N). The states are
    /// the caller's <c>chunkStates</c> (B, H, nc, P, N) when given (not disposed here), else a temporary.
    /// </summary>
    private sealed class ChunkWork : IDisposable
    {
        public ChunkWork(SsmChecks.ScanDims s, int chunkSize, Device device, Tensor? states = null)
        {
            Q = EffectiveChunk(s.L, chunkSize);
            Chunks = (s.L + Q - 1) / Q;
            Bhc = (long)s.B * s.H * Chunks;
            int l = Math.Max(s.L, 1), nc = Math.Max(Chunks, 1);
            Cs = Tensor.Empty([s.B, s.H, l], DType.Float32, device);
            W = Tensor.Empty([s.B, s.H, l], DType.Float32, device);
            Cb = Tensor.Empty([s.B, s.G, nc, Q, Q], DType.Float32, device);
            // With no chunk (L = 0) the caller's (B, H, 0, P, N) tensor has nothing to hold: a one-chunk temporary instead.
            _ownsStates = states is null || Chunks == 0;
            States = _ownsStates ? Tensor.Empty([s.B, s.H, nc, s.P, s.N], DType.Float32, device) : states!;
        }

        private readonly bool _ownsStates;

        /// <summary>
        /// The chunk length the kernels run at for a sequence of <paramref name="l"/> steps: chunkSize, at most L and at
        /// most <see cref="SsdMaxChunk"/>, at least 1 (any chunk gives the same results up to rounding).
        /// </summary>
        public static int EffectiveChunk(int l, int chunkSize) => Math.Max(1, Math.Min(Math.Min(chunkSize, l), SsdMaxChunk));

        /// <summary>The chunk length chunk states made at <paramref name="chunkSize"/> have: chunkSize, at most L, at least 1.</summary>
        public static int StatesChunk(int l, int chunkSize) => Math.Max(1, Math.Min(chunkSize, l));

        public int Q { get; }
        public int Chunks { get; }
        public long Bhc { get; }
        public Tensor Cs { get; }
        public Tensor W { get; }
        public Tensor Cb { get; }
        public Tensor States { get; }

        public void Dispose()
        {
            Cs.Dispose();
            W.Dispose();
            Cb.Dispose();
            if (_ownsStates) States.Dispose();
        }
    }

    /// <summary>
    /// Forward steps 1-3 of ssd.cu: cs, w, CB, then the state entering each chunk and the final state.
    /// With <paramref name="finalState"/> null the states are already in w.States (the forward's, handed to the
    /// backward): steps 1-2 only.
    /// </summary>
    private void ChunkStates(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? initialState, SsmChecks.ScanDims s, ChunkWork w, Tensor? finalState)
    {
        int mm = SsdMatrixMode;
        if (w.Chunks > 0)
        {
            var k1 = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
            k1.Add(Ptr(dt));
            k1.Add(Ptr(a));
            k1.Add(Ptr(w.Cs));
            k1.Add(Ptr(w.W));
            AddDims(ref k1, s.B, s.L, s.H, w.Q, w.Chunks);
            Launch(Function("ssd.cu", "ssd_cumsum_f32"), Grid((w.Bhc * 32 + 127) / 128), 128, 0, k1);   // a warp per (b, h, chunk)
            int tq = Tiles(w.Q);
            var k2 = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
            AddStrided(ref k2, b, 3);
            AddStrided(ref k2, c, 3);
            k2.Add(Ptr(w.Cb));
            AddDims(ref k2, s.B, s.L, s.G, s.N, w.Q, w.Chunks);
            Launch(Function("ssd.cu", "ssd_cb_" + EngineSuffix(mm)), Grid((long)s.B * s.G * w.Chunks * tq * tq), SsdThreads, 0, k2);
        }
        if (finalState is null) return;
        // With no chunk (L = 0) the walker only copies the initial state (or zeros) to finalState.
        var k3 = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
        AddStrided(ref k3, x, 3);
        AddStrided(ref k3, b, 3);
        k3.Add(Ptr(w.W));
        k3.Add(Ptr(w.Cs));
        k3.Add(PtrOrNull(initialState));
        k3.Add(Ptr(w.States));
        k3.Add(Ptr(finalState));
        AddDims(ref k3, s.B, s.L, s.H, s.G, s.P, s.N, w.Q, w.Chunks);
        Launch(Function("ssd.cu", "ssd_chunk_states_" + EngineSuffix(mm)), Grid((long)s.B * s.H * Tiles(s.P) * Tiles(s.N)), SsdThreads, 0, k3);
    }

    /// <summary>
    /// The chunked backward of ssd_backward.cu (B, L, P, N ≥ 1). The forward's quantities are recomputed at
    /// <see cref="SsdBackwardChunk"/>, except the states entering each chunk (ssd_chunk_states, most of the
    /// recompute) when <paramref name="savedStates"/> were made at the same effective chunk length. The kernels only
    /// read w.States (ssd_bwd_states, ssd_bwd_dc), so the saved tensor is left as it was.
    /// </summary>
    private void ChunkedBackward(Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
        Tensor dY, Tensor? dFinalState, Tensor? savedStates, int savedChunk, Tensor dX, Tensor dDt, Tensor dA, Tensor dB, Tensor dC, Tensor? dD, Tensor? dInitialState,
        SsmChecks.ScanDims s)
    {
        var dev = x.Device;
        int mm = SsdMatrixMode;
        bool useSaved = savedStates is not null
            && ChunkWork.StatesChunk(s.L, savedChunk) == ChunkWork.EffectiveChunk(s.L, SsdBackwardChunk);
        using var w = new ChunkWork(s, SsdBackwardChunk, dev, useSaved ? savedStates : null);
        int q = w.Q, nc = w.Chunks, tq = Tiles(q), tp = Tiles(s.P), tn = Tiles(s.N);
        if (useSaved)
            ChunkStates(x, dt, a, b, c, initialState, s, w, null);
        else
            using (var final = Tensor.Empty([s.B, s.H, s.P, s.N], DType.Float32, dev))
                ChunkStates(x, dt, a, b, c, initialState, s, w, final);
        using var gst = Tensor.Empty([s.B, s.H, nc, s.P, s.N], DType.Float32, dev);
        int rparts = tp * tn * SsdWalkWarps;   // ⟨G, S_in⟩ per chunk: a part per warp of each state tile
        using var rpart = Tensor.Empty([s.B, s.H, nc, rparts], DType.Float64, dev);
        using var dmd = Tensor.Empty([s.B, s.H, nc, q, q], DType.Float32, dev);
        using var partI = Tensor.Empty([s.B, s.H, s.L, tn], DType.Float32, dev);
        using var partV = Tensor.Empty([s.B, s.H, s.L, tn], DType.Float32, dev);
        using var partRow = Tensor.Empty([s.B, s.H, s.L, tq], DType.Float32, dev);
        using var partCol = Tensor.Empty([s.B, s.H, s.L, tq], DType.Float32, dev);
        using var partDa = Tensor.Empty([s.B * nc, s.H], DType.Float64, dev);
        using var partDd = Tensor.Empty([s.B * nc, s.H], DType.Float64, dev);
        // dB, dC: blocks of ssd_bwd_dc / ssd_bwd_db walk the heads of one split of a group; with one split and dense dB, dC
        // they write them directly, else per-split partials that ssd_bwd_part_sum adds and writes at dB's and dC's strides.
        long tileBlocks = (long)s.B * s.G * nc * tq * tn;
        int splits = SsdHeadSplits(tileBlocks, s.H / s.G);
        bool direct = splits == 1 && dB.IsContiguous && dC.IsContiguous;
        using var dbp = direct ? null : Tensor.Empty([splits, s.B, s.L, s.G, s.N], DType.Float32, dev);
        using var dcp = direct ? null : Tensor.Empty([splits, s.B, s.L, s.G, s.N], DType.Float32, dev);
        int hasState = initialState is null ? 0 : 1, hasFinal = dFinalState is null ? 0 : 1;

        var k = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
        k.Add(Ptr(dY));
        AddStrided(ref k, c, 3);
        k.Add(Ptr(w.Cs));
        k.Add(Ptr(w.States));
        k.Add(PtrOrNull(dFinalState));
        k.Add(Ptr(gst));
        k.Add(PtrOrNull(dInitialState));
        k.Add(Ptr(rpart));
        AddDims(ref k, s.B, s.L, s.H, s.G, s.P, s.N, q, nc);
        Launch(Function("ssd_backward.cu", "ssd_bwd_states_" + EngineSuffix(mm)), Grid((long)s.B * s.H * tp * tn), SsdThreads, 0, k);

        k = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
        k.Add(Ptr(dY));
        AddStrided(ref k, x, 3);
        k.Add(Ptr(w.Cs));
        k.Add(Ptr(dt));
        k.Add(Ptr(w.Cb));
        k.Add(Ptr(dmd));
        k.Add(Ptr(partRow));
        k.Add(Ptr(partCol));
        AddDims(ref k, s.B, s.L, s.H, s.G, s.P, q, nc);
        Launch(Function("ssd_backward.cu", "ssd_bwd_dm_" + EngineSuffix(mm)), Grid(w.Bhc * tq * tq), SsdThreads, 0, k);

        k = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
        k.Add(Ptr(dY));
        AddStrided(ref k, x, 3);
        k.Add(Ptr(dt));
        AddStrided(ref k, b, 3);
        k.Add(PtrOrNull(d));
        k.Add(Ptr(w.Cb));
        k.Add(Ptr(w.Cs));
        k.Add(Ptr(w.W));
        k.Add(Ptr(gst));
        k.Add(hasFinal);
        AddStrided(ref k, dX, 3);
        AddDims(ref k, s.B, s.L, s.H, s.G, s.P, s.N, q, nc);
        Launch(Function("ssd_backward.cu", "ssd_bwd_dx_" + EngineSuffix(mm)), Grid(w.Bhc * tq * tp), SsdThreads, 0, k);

        k = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
        k.Add(Ptr(dY));
        k.Add(Ptr(dt));
        AddStrided(ref k, b, 3);
        AddStrided(ref k, c, 3);
        k.Add(Ptr(w.Cs));
        k.Add(Ptr(w.States));
        k.Add(hasState);
        k.Add(Ptr(dmd));
        k.Add(Ptr(dcp ?? dC));
        k.Add(Ptr(partI));
        AddDims(ref k, s.B, s.L, s.H, s.G, s.P, s.N, q, nc, splits);
        Launch(Function("ssd_backward.cu", "ssd_bwd_dc_" + EngineSuffix(mm)), Grid(tileBlocks * splits), SsdThreads, 0, k);

        k = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
        AddStrided(ref k, x, 3);
        k.Add(Ptr(dt));
        AddStrided(ref k, c, 3);
        AddStrided(ref k, b, 3);
        k.Add(Ptr(w.Cs));
        k.Add(Ptr(gst));
        k.Add(hasFinal);
        k.Add(Ptr(dmd));
        k.Add(Ptr(dbp ?? dB));
        k.Add(Ptr(partV));
        AddDims(ref k, s.B, s.L, s.H, s.G, s.P, s.N, q, nc, splits);
        Launch(Function("ssd_backward.cu", "ssd_bwd_db_" + EngineSuffix(mm)), Grid(tileBlocks * splits), SsdThreads, 0, k);

        k = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
        k.Add(Ptr(dt));
        k.Add(Ptr(a));
        k.Add(Ptr(w.Cs));
        k.Add(Ptr(dmd));
        k.Add(Ptr(partRow));
        k.Add(Ptr(partCol));
        k.Add(Ptr(partI));
        k.Add(Ptr(partV));
        k.Add(Ptr(rpart));
        k.Add(Ptr(dDt));
        k.Add(Ptr(partDa));
        k.Add(Ptr(partDd));
        AddDims(ref k, s.B, s.L, s.H, s.G, s.N, q, nc, rparts);
        Launch(Function("ssd_backward.cu", "ssd_bwd_scalars_f32"), Grid(w.Bhc), SsdScalarThreads, (uint)((q + 2 * SsdScalarThreads / 32) * sizeof(double)), k);

        // The split partials (splits, B, L, G, N), added in split order.
        if (dbp is not null && dcp is not null)
            PartSums(dbp, dcp, dB, dC, s, splits, (long)s.B * s.L * s.G * s.N, (long)s.G * s.N, s.N);
        HeadSums(partDa, partDd, dA, dD, s, s.B * nc);
    }

    /// <summary>
    /// Heads a block of ssd_bwd_dc / ssd_bwd_db walks at most (the first bound of <see cref="SsdHeadSplits"/>): enough to
    /// keep the per-split partials of dB, dC small (AiM-B: 24 heads a group, 4 splits), few enough for a short block.
    /// </summary>
    private const int SsdMaxHeadsPerBlock = 6;

    /// <summary>
    /// The blocks the head splits aim for: the H200's 132 multiprocessors × 3 resident blocks of the tile kernels. A
    /// constant, not the device's count, so that the split count, and with it the rounding order of dB and dC, depends
    /// on the shape alone.
    /// </summary>
    private const long SsdHeadSplitTargetBlocks = 132 * 3;

    /// <summary>
    /// The head splits of ssd_bwd_dc / ssd_bwd_db for <paramref name="tileBlocks"/> (B·G·nc·row tiles·n-tiles) and
    /// <paramref name="headsPerGroup"/> (H/G) heads a group: the fewest splits with at most
    /// <see cref="SsdMaxHeadsPerBlock"/> heads each, then more (up to one head a split) while the grid has fewer than
    /// <see cref="SsdHeadSplitTargetBlocks"/> blocks. Split k takes heads k·hpg/splits .. (k+1)·hpg/splits - 1 of its
    /// group. AiM-B at batch 32 (256 tile blocks, 24 heads): 4 splits of 6, 1024 blocks; one head a group: 1 (no sum).
    /// </summary>
    internal static int SsdHeadSplits(long tileBlocks, int headsPerGroup)
    {
        int splits = Math.Max(1, (headsPerGroup + SsdMaxHeadsPerBlock - 1) / SsdMaxHeadsPerBlock);
        while (splits < headsPerGroup && tileBlocks * splits < SsdHeadSplitTargetBlocks) splits++;
        return splits;
    }

    /// <summary>The serial backward: one block per (batch, head) walking the sequence (P ≤ 64, N ≤ 128).</summary>
    private void SerialBackward(string op, Tensor x, Tensor dt, Tensor a, Tensor b, Tensor c, Tensor? d, Tensor? initialState,
        Tensor dY, Tensor? dFinalState, Tensor dX, Tensor dDt, Tensor dA, Tensor dB, Tensor dC, Tensor? dD, Tensor? dInitialState,
        SsmChecks.ScanDims s)
    {
        if (s.P > SsdBwdMaxP || s.N > SsdBwdMaxN)
            throw new NotSupportedException($"{op}: the serial CUDA backward keeps a head's state in registers and supports P ≤ {SsdBwdMaxP}, N ≤ {SsdBwdMaxN}; got P={s.P}, N={s.N}");
        var dev = x.Device;
        bool direct = s.H == s.G;
        using var dbh = direct ? null : Tensor.Empty([s.B, Math.Max(s.L, 1), s.H, s.N], DType.Float32, dev);
        using var dch = direct ? null : Tensor.Empty([s.B, Math.Max(s.L, 1), s.H, s.N], DType.Float32, dev);
        using var partDa = Tensor.Empty([Math.Max(s.B, 1), s.H], DType.Float64, dev);
        using var partDd = Tensor.Empty([Math.Max(s.B, 1), s.H], DType.Float64, dev);
        if (s.B > 0)
        {
            var k = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
            AddStrided(ref k, x, 3);
            k.Add(Ptr(dt));
            k.Add(Ptr(a));
            AddStrided(ref k, b, 3);
            AddStrided(ref k, c, 3);
            k.Add(PtrOrNull(d));
            k.Add(PtrOrNull(initialState));
            k.Add(Ptr(dY));
            k.Add(PtrOrNull(dFinalState));
            k.Add(Ptr(dX));
            k.Add(Ptr(dDt));
            k.Add(Ptr(dbh ?? dB));
            k.Add(Ptr(dch ?? dC));
            k.Add(Ptr(partDa));
            k.Add(Ptr(partDd));
            k.Add(PtrOrNull(dInitialState));
            AddDims(ref k, s.B, s.L, s.H, s.G, s.P, s.N);
            Launch(Function("ssd_backward.cu", "ssd_bwd_f32"), Grid((long)s.B * s.H), SsdBwdThreads, 0, k);
        }
        else
        {
            Fill(0, partDa);
            Fill(0, partDd);
        }
        // The per-head parts (B, L, H, N): H/G parts a group, N apart.
        if (dbh is not null && dch is not null)
            PartSums(dbh, dch, dB, dC, s, s.H / s.G, s.N, (long)s.H * s.N, (long)(s.H / s.G) * s.N);
        HeadSums(partDa, partDd, dA, dD, s, s.B);
    }

    /// <summary>
    /// dB, dC (B, L, G, N; written at their strides) = Σ_k of the parts pb, pc at element k·sk + (b·L + l)·sr + g·sg + n,
    /// k ascending (ssd_bwd_part_sum).
    /// </summary>
    private void PartSums(Tensor pb, Tensor pc, Tensor dB, Tensor dC, SsmChecks.ScanDims s, int parts, long sk, long sr, long sg)
    {
        var g = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
        g.Add(Ptr(pb));
        g.Add(Ptr(pc));
        AddStrided(ref g, dB, 3);
        AddStrided(ref g, dC, 3);
        g.Add((long)s.B * s.L);
        AddDims(ref g, s.L, s.G, s.N, parts);
        g.Add(sk);
        g.Add(sr);
        g.Add(sg);
        LaunchElementwise(Function("ssd_backward.cu", "ssd_bwd_part_sum_f32"), (long)s.B * s.L * s.G * s.N, g);
    }

    /// <summary>dA, dD = the partial rows (partRows × H, double) summed per head.</summary>
    private void HeadSums(Tensor partDa, Tensor partDd, Tensor dA, Tensor? dD, SsmChecks.ScanDims s, int partRows)
    {
        var r = new KernelArgs(stackalloc byte[ArgBytes], stackalloc nint[ArgCount]);
        r.Add(Ptr(partDa));
        r.Add(Ptr(partDd));
        r.Add(Ptr(dA));
        r.Add(PtrOrNull(dD));
        r.Add(partRows);
        r.Add(s.H);
        Launch(Function("ssd_backward.cu", "ssd_bwd_head_sum_f32"), Grid(s.H), 32, 0, r);   // a warp per head
    }

    private static int Tiles(int n) => (n + SsdTile - 1) / SsdTile;

    /// <summary>The name suffix of the chunk-state walkers compiled for engine <paramref name="mm"/> (one kernel per engine in ssd.cu and ssd_backward.cu).</summary>
    private static string EngineSuffix(int mm) => (SsdMatrixMath)mm switch
    {
        SsdMatrixMath.Float32Fma => "fma",
        SsdMatrixMath.Tf32 => "tf32",
        _ => "3xtf32",
    };

    private static uint Grid(long blocks) => checked((uint)blocks);
}
