using Aim.Engine.Backends;
using Aim.Engine.Tensors;

namespace Aim.BackendOps;

// provides: cases for the SSD scan's saved chunk states: the forward's optional chunkStates output (S_in[c], the
// state entering each chunk, IKernels.SsdScan) and the backward given those states (IKernels.SsdScanBackward), whose
// gradients must match the backward without them (the reference never reads them, so target vs reference checks it).
public static partial class OpCases
{
    /// <summary>The SsdScan kernel with its chunkStates output: Y, FinalState and the chunk states, target vs reference.</summary>
    public static IEnumerable<OpCase> SsdScanChunkStates()
    {
        foreach (var s in ScanConfigs)
        {
            yield return new OpCase("SsdScanChunkStates", s.ToString(), rng => ScanInputs(rng, s), t =>
            {
                var (x, dt, a, b, c, d, init) = ScanOperands(t, s);
                var k = Backend.Kernels(x.Device);
                int nc = (s.L + s.Chunk - 1) / s.Chunk;
                var y = Tensor.Empty([s.B, s.L, s.H, s.P], x.DType, x.Device);
                var final = Tensor.Empty([s.B, s.H, s.P, s.N], x.DType, x.Device);
                var states = Tensor.Empty([s.B, s.H, nc, s.P, s.N], x.DType, x.Device);
                k.SsdScan(x, dt, a, b, c, d, init, s.Chunk, y, final, states);
                return [y, final, states];
            }) { HasGradient = false };
        }
    }

    /// <summary>The chunk length the saved-states cases make their states at (CUDA's SsdBackwardChunk).</summary>
    private const int SavedStatesChunk = 64;

    /// <summary>
    /// The SsdScan backward kernel given the forward's chunk states, target vs the reference backward (which ignores
    /// them): the gradients must not depend on the states being given. The states are made at <see cref="SavedStatesChunk"/>
    /// on both sides (the outputs are compared by shape), the chunk CUDA's backward reads saved states at
    /// (<see cref="Engine.Kernels.IKernels.SsdScanStatesChunk"/>): one chunk of L steps at L ≤ 64, five at L = 257.
    /// </summary>
    public static IEnumerable<OpCase> SsdScanBackwardSavedStates() =>
        ScanBackwardCases("SsdScanBackwardSavedStates", (k, s, o, g) =>
        {
            const int q = SavedStatesChunk;
            int nc = (s.L + q - 1) / q;
            var dev = o.X.Device;
            using var y = Tensor.Empty([s.B, s.L, s.H, s.P], o.X.DType, dev);
            using var final = Tensor.Empty([s.B, s.H, s.P, s.N], o.X.DType, dev);
            var states = Tensor.Empty([s.B, s.H, nc, s.P, s.N], o.X.DType, dev);
            k.SsdScan(o.X, o.Dt, o.A, o.B, o.C, o.D, o.Init, q, y, final, states);
            k.SsdScanBackward(o.X, o.Dt, o.A, o.B, o.C, o.D, o.Init, g.DY, g.DFinal, states, q, g.Dx, g.Ddt, g.Da, g.Db, g.Dc, g.Dd, g.Di);
            // The states come back too: the backward reads them and must leave them as the forward wrote them.
            return [g.Dx, g.Ddt, g.Da, g.Db, g.Dc, g.Dd, g.Di, states];
        });
}
