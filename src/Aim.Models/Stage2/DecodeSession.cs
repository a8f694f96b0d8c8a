using Aim.Engine.Autograd;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Models.Stage2;

/// <summary>
/// What stays fixed while a batch of images is decoded (spec §6.2): the class embeddings of the rows, every layer's
/// adaLN rows and the final layer's, computed once; and what each step updates in place: every layer's conv and
/// SSM state. A step is then only the token's path through the layers, which is what a recorded graph replays.
/// </summary>
public sealed class DecodeSession : IDisposable
{
    private readonly AimModel _model;
    private readonly List<MixerState> _states;
    private readonly List<Tensor> _owned = [];

    /// <summary>Starts decoding <paramref name="classIds"/> (R rows, int64, on the model's device; the null class allowed).</summary>
    public DecodeSession(AimModel model, Tensor classIds)
    {
        _model = model;
        using var noGrad = Tape.NoGrad();
        // Temporaries (silu(cond), the adaLN-group rows) go with this scope; the constants are detached from it.
        using (TensorScope.Open())
        {
            Cond = Own(model.ClassEmbeddings.Forward(classIds));                         // (R, d)
            Modulations = model.LayerModulations(Cond).Select(t => (Own(t.Shift), Own(t.ScalePlusOne), Own(t.Gate))).ToList();
            var (shift, scalePlusOne) = model.FinalModulationRows(Cond);
            FinalShift = Own(shift);
            FinalScalePlusOne = Own(scalePlusOne);
        }
        _states = model.NewStates(classIds.Shape[0], classIds.Device);
    }

    private Tensor Own(Tensor t)
    {
        _owned.Add(TensorScope.Detach(t));
        return t;
    }

    /// <summary>(R, d) class embeddings: the step-0 input.</summary>
    public Tensor Cond { get; }

    /// <summary>Per layer (shift, 1 + scale, gate), each (R, d).</summary>
    public IReadOnlyList<(Tensor Shift, Tensor ScalePlusOne, Tensor Gate)> Modulations { get; }

    /// <summary>The final layer's shift, (R, d).</summary>
    public Tensor FinalShift { get; }

    /// <summary>The final layer's 1 + scale, (R, d).</summary>
    public Tensor FinalScalePlusOne { get; }

    /// <summary>
    /// One step for every row: input (R, d) is <see cref="Cond"/> at step 0, else word[token] + pos[position].
    /// Updates the states; returns (logits (R, V), final hidden (R, d)).
    /// </summary>
    public (Tensor Logits, Tensor FinalHidden) Step(Tensor input)
    {
        var m = _model;
        // Block i: r = residual + gate_{i-1}·y_{i-1}; u = RMSNorm(r)·(1 + scale_i) + shift_i; y_i = mixer_i(u). The
        // previous block's gate multiply and this block's add, norm and modulation are one fused kernel.
        Tensor hidden = input;
        Tensor? gate = null, residual = null;
        for (int i = 0; i < m.Layers.Count; i++)
        {
            var (shift, scalePlusOne, g) = Modulations[i];
            // One op per block: the norm above, in_proj, the conv + SSM step and the gated norm + out_proj.
            var (y, r) = m.Layers[i].Mixer.DecodeLayer(hidden, gate, residual, m.Layers[i].Norm.Weight, AimModel.NormEps, scalePlusOne, shift,
                _states[i]);
            hidden = y;                                                                  // (R, d)
            gate = g;
            residual = r;
        }
        var (normed, _) = Ops.AddRmsNorm(Ops.Mul(gate!, hidden), residual, m.NormF.Weight, AimModel.NormEps);
        var (final, _) = Ops.ModulatedAddRmsNorm(normed, null, null, m.NormFinal.Weight, AimModel.NormEps, FinalScalePlusOne, FinalShift);
        return (Ops.MatMul(final, m.WordEmbeddings.Weight, transB: true), final);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var s in _states) s.Dispose();
        foreach (var t in _owned) t.Dispose();
    }
}
