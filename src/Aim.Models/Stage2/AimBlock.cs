using Aim.Engine.Nn;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Models.Stage2;

/// <summary>
/// One AiM block (spec §2.4): fused residual-add + RMSNorm (fp32 residual), adaLN modulation, gated mixer.
/// Per-layer adaLN (AiM-B) owns adaLN_modulation.1 (d → 3d); adaLN-group (L/XL) owns scale_shift_table (1, 3, d)
/// and adds the shared group projection.
/// </summary>
public sealed class AimBlock : Module
{
    private const double NormEps = 1e-5;
    private readonly Parameter? _scaleShiftTable;

    /// <summary>norm.weight: (d).</summary>
    public RmsNorm Norm { get; }
    /// <summary>The Mamba-2 mixer.</summary>
    public Mamba2Mixer Mixer { get; }
    /// <summary>adaLN_modulation.1 (per-layer adaLN only): d → 3d with bias.</summary>
    public Linear? AdaLnModulation { get; }
    /// <summary>scale_shift_table (adaLN-group only): (1, 3, d).</summary>
    public Tensor? ScaleShiftTable => _scaleShiftTable?.Value;

    /// <summary>Zero parameters.</summary>
    public AimBlock(AimConfig config)
    {
        int d = config.DModel;
        Norm = RegisterModule("norm", new RmsNorm(d, NormEps));
        Mixer = RegisterModule("mixer", new Mamba2Mixer(config));
        if (config.AdalnGroup) _scaleShiftTable = RegisterParameter("scale_shift_table", Tensor.Zeros([1, 3, d]));
        else AdaLnModulation = RegisterModule("adaLN_modulation", new SequentialSlot1(d, 3 * d)).Linear;
    }

    /// <summary>
    /// (shift, 1 + scale, gate), each (B, d) and contiguous, for this block. siluCond: (B, d) = silu(class embedding);
    /// groupRows: (B, 3, d) this block's rows of the shared group projection (adaLN-group) or null.
    /// </summary>
    public (Tensor Shift, Tensor ScalePlusOne, Tensor Gate) Modulation(Tensor siluCond, Tensor? groupRows)
    {
        Tensor m;                                                   // (B, 3, d)
        if (AdaLnModulation is not null)
        {
            var flat = AdaLnModulation.Forward(siluCond);           // (B, 3d): shift | scale | gate
            m = Ops.Reshape(flat, flat.Shape[0], 3, -1);
        }
        else
        {
            m = Ops.Add(groupRows ?? throw new ArgumentException("adaLN-group block needs its group rows"), ScaleShiftTable!);
        }
        // Computed once per image and read every step: contiguous rows, and 1 + scale folded in.
        return (Ops.Contiguous(Ops.Select(m, 1, 0)), Ops.AddScalar(Ops.Select(m, 1, 1), 1.0), Ops.Contiguous(Ops.Select(m, 1, 2)));
    }

    /// <summary>
    /// hidden, residual: (B, L, d) (residual null for block 0), modulation rows (B, d) broadcast over L.
    /// Returns (gate · mixer(norm(r)·(1+scale)+shift), r) with r = residual + hidden in fp32.
    /// </summary>
    public (Tensor Hidden, Tensor Residual) Forward(Tensor hidden, Tensor? residual, (Tensor Shift, Tensor ScalePlusOne, Tensor Gate) mod)
    {
        var (n, r) = Ops.AddRmsNorm(hidden, residual, Norm.Weight, NormEps);
        var u = Ops.Modulate(n, mod.ScalePlusOne, mod.Shift);   // n·(1+scale) + shift, rows over L
        var y = Mixer.Forward(u);
        return (Ops.Gate(mod.Gate, y), r);
    }
}
