using Aim.Engine.Autograd;
using Aim.Engine.Nn;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Models.Stage2;

/// <summary>
/// The Mamba-2 mixer (mamba_ssm/modules/mamba2.py, v2.2.2 math; spec §3). Parameters keep the PyTorch names:
/// in_proj, conv1d, dt_bias, A_log, D, norm, out_proj.
/// Shape letters: B batch, L sequence, d model width, E d_inner, H heads, P head dim, G groups, N state, K conv width,
/// C conv channels (E + 2GN).
/// </summary>
public sealed class Mamba2Mixer : Module
{
    private const double NormEps = 1e-5;
    private readonly AimConfig _config;
    private readonly ConvHolder _conv;
    private readonly RmsNorm _norm;
    private readonly Parameter _dtBias, _aLog, _d;

    /// <summary>in_proj: d → 2E + 2GN + H, no bias. Output order: z | xBC | dt.</summary>
    public Linear InProj { get; }
    /// <summary>conv1d.weight: (C, 1, K).</summary>
    public Tensor ConvWeight => _conv.Weight;
    /// <summary>conv1d.bias: (C).</summary>
    public Tensor ConvBias => _conv.Bias;
    /// <summary>dt_bias: (H).</summary>
    public Tensor DtBias => _dtBias.Value;
    /// <summary>A_log: (H); A = -exp(A_log).</summary>
    public Tensor ALog => _aLog.Value;
    /// <summary>D: (H) skip.</summary>
    public Tensor D => _d.Value;
    /// <summary>norm.weight: (E) of the gated RMSNorm.</summary>
    public Tensor NormWeight => _norm.Weight;
    /// <summary>out_proj: E → d, no bias.</summary>
    public Linear OutProj { get; }

    /// <summary>Zero parameters; load a checkpoint or call the model's initialiser.</summary>
    public Mamba2Mixer(AimConfig config)
    {
        _config = config;
        int e = config.DInner, c = config.ConvDim, h = config.NHeads;
        InProj = RegisterModule("in_proj", new Linear(config.DModel, config.InProjDim, bias: false));
        _conv = RegisterModule("conv1d", new ConvHolder(c, config.Ssm.DConv));
        _dtBias = RegisterParameter("dt_bias", Tensor.Zeros([h]));
        _aLog = RegisterParameter("A_log", Tensor.Zeros([h]));
        _d = RegisterParameter("D", Tensor.Full([h], 1.0));
        _norm = RegisterModule("norm", new RmsNorm(e, NormEps));
        OutProj = RegisterModule("out_proj", new Linear(e, config.DModel, bias: false));
    }

    /// <summary>Holds conv1d.weight and conv1d.bias under the PyTorch names.</summary>
    private sealed class ConvHolder : Module
    {
        private readonly Parameter _weight, _bias;

        public Tensor Weight => _weight.Value;
        public Tensor Bias => _bias.Value;

        public ConvHolder(int channels, int width)
        {
            _weight = RegisterParameter("weight", Tensor.Zeros([channels, 1, width]));
            _bias = RegisterParameter("bias", Tensor.Zeros([channels]));
        }
    }

    /// <summary>Whole-sequence forward (training, prefill). u: (B, L, d) → (B, L, d).</summary>
    public Tensor Forward(Tensor u)
    {
        int b = u.Shape[0], l = u.Shape[1];
        int e = _config.DInner, h = _config.NHeads, p = _config.Ssm.HeadDim, g = _config.Ssm.NGroups, n = _config.Ssm.DState;
        var zxbcdt = InProj.Forward(u);                                   // (B, L, 2E + 2GN + H)
        var z = Ops.Narrow(zxbcdt, -1, 0, e);                              // (B, L, E)
        var xbc = Ops.Narrow(zxbcdt, -1, e, _config.ConvDim);              // (B, L, C)
        var dt = Ops.Narrow(zxbcdt, -1, e + _config.ConvDim, h);           // (B, L, H)
        var conv = Ops.CausalConv1d(xbc, ConvWeight2D(), ConvBias, silu: true); // (B, L, C)
        var x = Ops.Reshape(Ops.Narrow(conv, -1, 0, e), b, l, h, p);
        var bm = Ops.Reshape(Ops.Narrow(conv, -1, e, g * n), b, l, g, n);
        var cm = Ops.Reshape(Ops.Narrow(conv, -1, e + g * n, g * n), b, l, g, n);
        var delta = Ops.Softplus(Ops.Add(dt, DtBias));                    // (B, L, H)
        var a = Ops.Neg(Ops.Exp(ALog));                                   // (H)
        var (y, _) = Ops.SsdScan(x, delta, a, bm, cm, D, _config.Ssm.ChunkSize, null);
        var yn = Ops.GatedRmsNorm(Ops.Reshape(y, b, l, e), z, NormWeight, NormEps, e / g);
        return OutProj.Forward(yn);
    }

    /// <summary>conv1d.weight viewed as (C, K).</summary>
    private Tensor ConvWeight2D() => Ops.Reshape(ConvWeight, ConvWeight.Shape[0], ConvWeight.Shape[2]);

    /// <summary>
    /// One recurrent step (inference; spec §3.6). u: (B, d) → (B, d). Updates the layer's conv state (B, C, K)
    /// and SSM state (B, H, P, N) in place. From zero states the first step equals the original's prefill.
    /// </summary>
    public Tensor Step(Tensor u, MixerState state)
    {
        int b = u.Shape[0];
        int e = _config.DInner, h = _config.NHeads, g = _config.Ssm.NGroups;
        var zxbcdt = InProj.Forward(u);                                    // (B, 2E + 2GN + H)
        var z = Ops.Narrow(zxbcdt, -1, 0, e);
        var xbc = Ops.Narrow(zxbcdt, -1, e, _config.ConvDim);
        var dt = Ops.Narrow(zxbcdt, -1, e + _config.ConvDim, h);
        // One op: the conv step (SiLU) split into x (B, H, P) | b (B, G, N) | c (B, G, N), then the SSM step
        // with softplus(dt + dt_bias) inside; CausalConv1dStep followed by SsmStep.
        var y = Ops.ConvSsmStep(state.Conv, xbc, ConvWeight2D(), ConvBias, state.Ssm, dt, DtBias, state.A, D); // (B, H, P)
        // One op: the gated RMSNorm then out_proj (no bias), equal to GatedRmsNorm + Linear.
        return Ops.GatedRmsNormMatMul(Ops.Reshape(y, b, e), z, NormWeight, NormEps, e / g, OutProj.Weight);
    }

    /// <summary>
    /// One decode step of the whole block around this mixer (inference; spec §3.6, §6.2): the previous block's gated
    /// residual add, this block's RMSNorm (<paramref name="normWeight"/>) with adaLN modulation, then <see cref="Step"/>,
    /// in one Ops.MambaDecodeLayer call. Equal to
    /// <c>(u, r) = Ops.ModulatedAddRmsNorm(hidden, gate, residual, normWeight, normEps, scalePlusOne, shift); y = Step(u, state)</c>.
    /// </summary>
    /// <param name="hidden">(B, d) the previous block's mixer output (the block input for the first block).</param>
    /// <param name="gate">(B, d) the previous block's adaLN gate, or null for the first block.</param>
    /// <param name="residual">(B, d) the residual stream, or null for the first block.</param>
    /// <param name="normWeight">(d) this block's norm weight.</param>
    /// <param name="normEps">The norm's epsilon.</param>
    /// <param name="scalePlusOne">(B, d) 1 + this block's adaLN scale.</param>
    /// <param name="shift">(B, d) this block's adaLN shift.</param>
    /// <param name="state">This layer's decoding cache, updated in place.</param>
    /// <returns>The mixer output (B, d) and the new residual stream (B, d).</returns>
    public (Tensor Y, Tensor Residual) DecodeLayer(Tensor hidden, Tensor? gate, Tensor? residual, Tensor normWeight, double normEps,
        Tensor scalePlusOne, Tensor shift, MixerState state)
    {
        int e = _config.DInner, g = _config.Ssm.NGroups;
        return Ops.MambaDecodeLayer(hidden, gate, residual, normWeight, normEps, scalePlusOne, shift, InProj.Weight, state.Conv, ConvWeight2D(),
            ConvBias, state.Ssm, DtBias, state.A, D, NormWeight, NormEps, e / g, OutProj.Weight);
    }

    /// <summary>
    /// Zeroed recurrent state for <paramref name="batch"/> rows on <paramref name="device"/>, with A = −exp(A_log)
    /// computed once for the whole decode (the weights do not change while decoding).
    /// </summary>
    public MixerState NewState(int batch, Device device)
    {
        using var noGrad = Tape.NoGrad();
        using var scope = TensorScope.Open();
        return new(
            Tensor.Zeros([batch, _config.ConvDim, _config.Ssm.DConv], DType.Float32, device),
            Tensor.Zeros([batch, _config.NHeads, _config.Ssm.HeadDim, _config.Ssm.DState], DType.Float32, device),
            Ops.Neg(Ops.Exp(ALog)));                                              // on the model's device, like the states
    }
}

/// <summary>One layer's decoding cache: conv state (B, C, K), oldest input first; SSM state (B, H, P, N), fp32; and A (H).</summary>
public sealed class MixerState(Tensor conv, Tensor ssm, Tensor a) : IDisposable
{
    /// <summary>(B, C, K) pre-conv inputs, oldest first.</summary>
    public Tensor Conv { get; } = TensorScope.Detach(conv);
    /// <summary>(B, H, P, N).</summary>
    public Tensor Ssm { get; } = TensorScope.Detach(ssm);
    /// <summary>(H): −exp(A_log), the per-head decay rate.</summary>
    public Tensor A { get; } = TensorScope.Detach(a);

    /// <inheritdoc />
    public void Dispose()
    {
        Conv.Dispose();
        Ssm.Dispose();
        A.Dispose();
    }
}
