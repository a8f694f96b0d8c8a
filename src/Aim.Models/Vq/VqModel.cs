using Aim.Engine.Nn;
using Aim.Engine.Operations;
using Aim.Engine.Tensors;

namespace Aim.Models.Vq;

/// <summary>
/// LlamaGen's VQModel as AiM uses it (spec §8): encoder → quant_conv → l2-normalised nearest-codebook quantizer;
/// codes → normalised codebook rows → post_quant_conv → decoder. Names are the original state_dict keys.
/// Shape letters: N images, C channels, H/W pixels, h/w latent grid, e embed dim, K codebook size.
/// </summary>
public sealed class VqModel : Module
{
    /// <summary>The configuration.</summary>
    public VqConfig Config { get; }
    private readonly Coder _encoder, _decoder;
    private readonly Conv2d _quantConv, _postQuantConv;
    private readonly QuantizerParameters _quantize;

    /// <summary>quantize.embedding.weight: (K, e).</summary>
    public Tensor Codebook => _quantize.Embedding.Weight;

    /// <summary>Zero parameters (load a checkpoint).</summary>
    public VqModel(VqConfig config)
    {
        Config = config.Validate();
        _encoder = RegisterModule("encoder", Coder.Encoder(config));
        _decoder = RegisterModule("decoder", Coder.Decoder(config));
        _quantize = RegisterModule("quantize", new QuantizerParameters(config));
        _quantConv = RegisterModule("quant_conv", new Conv2d(config.ZChannels, config.EmbedDim, 1));
        _postQuantConv = RegisterModule("post_quant_conv", new Conv2d(config.EmbedDim, config.ZChannels, 1));
    }

    private sealed class QuantizerParameters : Module
    {
        public Embedding Embedding { get; }

        public QuantizerParameters(VqConfig c)
        {
            Embedding = RegisterModule("embedding", new Embedding(c.CodebookSize, c.EmbedDim));
            // A training-usage buffer every checkpoint carries; inference never reads it (spec §8.5).
            RegisterParameter("codebook_used", Tensor.Zeros([65536]));
        }
    }

    /// <summary>Pre-quantisation latent: images (N, Cin, H, W) in [-1, 1] → (N, e, h, w).</summary>
    public Tensor EncodeLatent(Tensor images)
    {
        if (images.Rank != 4 || images.Shape[1] != Config.InChannels || images.Shape[2] != Config.ImageSize || images.Shape[3] != Config.ImageSize)
            throw new ArgumentException($"VQ encode: images {Tensor.ShapeString(images.Shape)} must be (N, {Config.InChannels}, {Config.ImageSize}, {Config.ImageSize})");
        return _quantConv.Forward(_encoder.Forward(images));
    }

    /// <summary>Codes for a latent (N, e, h, w) → int64 (N, h·w) in raster order (argmin over l2-normalised vectors).</summary>
    public Tensor Quantize(Tensor latent)
    {
        int n = latent.Shape[0], e = latent.Shape[1], h = latent.Shape[2], w = latent.Shape[3];
        var flat = Ops.Reshape(Ops.Permute(latent, 0, 2, 3, 1), n * h * w, e);  // row = b·hw + row·w + col
        var codes = Ops.NearestCode(Ops.L2Normalize(flat), Ops.L2Normalize(Codebook));
        return Ops.Reshape(codes, n, h * w);
    }

    /// <summary>Images (N, C, H, W) → codes (N, h·w).</summary>
    public Tensor Encode(Tensor images) => Quantize(EncodeLatent(images));

    /// <summary>Normalised codebook rows for codes (N, h·w) as a latent (N, e, h, w).</summary>
    public Tensor CodebookEntry(Tensor codes)
    {
        int n = codes.Shape[0], side = Config.LatentSize;
        if (codes.Rank != 2 || codes.Shape[1] != side * side)
            throw new ArgumentException($"VQ decode: codes {Tensor.ShapeString(codes.Shape)} must be (N, {side * side}) for a {side}x{side} grid");
        var rows = Ops.Embedding(Ops.L2Normalize(Codebook), codes);                  // (N, hw, e)
        return Ops.Permute(Ops.Reshape(rows, n, side, side, Config.EmbedDim), 0, 3, 1, 2);
    }

    /// <summary>Latent (N, e, h, w) → images (N, Cout, H, W), roughly in [-1, 1], not clamped.</summary>
    public Tensor DecodeLatent(Tensor quant) => _decoder.Forward(_postQuantConv.Forward(Ops.Contiguous(quant)));

    /// <summary>decode_code: codes (N, h·w) → images (N, Cout, H, W).</summary>
    public Tensor DecodeCodes(Tensor codes) => DecodeLatent(CodebookEntry(codes));

    /// <summary>The encoder or decoder tower (their layouts mirror each other, spec §8.2–8.3).</summary>
    private sealed class Coder : Module
    {
        private readonly bool _isEncoder;
        private readonly Conv2d _convIn, _convOut;
        private readonly List<(ModuleList<ResnetBlock> Res, ModuleList<AttnBlock>? Attn, Module? Resample)> _levels = [];
        private readonly ResnetBlock _mid0, _mid2;
        private readonly AttnBlock _mid1;
        private readonly GroupNorm _normOut;

        private Coder(bool isEncoder, VqConfig c)
        {
            _isEncoder = isEncoder;
            int levels = c.ChMult.Count;
            int top = c.Ch * c.ChMult[^1];
            _convIn = RegisterModule("conv_in", isEncoder ? new Conv2d(c.InChannels, c.Ch, 3, 1, 1) : new Conv2d(c.ZChannels, top, 3, 1, 1));
            var blocks = new LevelList();
            int blockIn = isEncoder ? c.Ch : top;
            Mid? mid = null;
            if (!isEncoder) mid = RegisterModule("mid", new Mid(c, top));
            RegisterModule("conv_blocks", blocks);
            for (int i = 0; i < levels; i++)
            {
                // Encoder levels run shallow → deep; decoder levels deep → shallow (index 0 is the lowest resolution).
                int mult = isEncoder ? c.ChMult[i] : c.ChMult[levels - 1 - i];
                int blockOut = c.Ch * mult;
                bool lowest = isEncoder ? i == levels - 1 : i == 0;
                bool last = i == levels - 1;
                var level = blocks.AddLevel();
                var res = level.Add("res", new ModuleList<ResnetBlock>());
                var attn = lowest ? level.Add("attn", new ModuleList<AttnBlock>()) : null;
                int count = isEncoder ? c.NumResBlocks : c.NumResBlocks + 1;
                for (int r = 0; r < count; r++)
                {
                    res.Add(new ResnetBlock(c, blockIn, blockOut));
                    blockIn = blockOut;
                    attn?.Add(new AttnBlock(c, blockIn));
                }
                Module? resample = last ? null : isEncoder ? level.Add("downsample", new Downsample(blockIn)) : level.Add("upsample", new Upsample(blockIn));
                _levels.Add((res, attn, resample));
            }
            if (isEncoder) mid = RegisterModule("mid", new Mid(c, blockIn));
            (_mid0, _mid1, _mid2) = (mid!.Res0, mid.Attn, mid.Res2);
            _normOut = RegisterModule("norm_out", new GroupNorm(c.NormGroups, blockIn, c.NormEps));
            _convOut = RegisterModule("conv_out", isEncoder ? new Conv2d(blockIn, c.ZChannels, 3, 1, 1) : new Conv2d(blockIn, c.OutChannels, 3, 1, 1));
        }

        public static Coder Encoder(VqConfig c) => new(true, c);
        public static Coder Decoder(VqConfig c) => new(false, c);

        public Tensor Forward(Tensor x)
        {
            var h = _convIn.Forward(x);
            if (!_isEncoder) h = MidForward(h);
            foreach (var (res, attn, resample) in _levels)
            {
                for (int r = 0; r < res.Items.Count; r++)
                {
                    h = res.Items[r].Forward(h);
                    if (attn is not null) h = attn.Items[r].Forward(h);
                }
                h = resample switch
                {
                    Downsample d => d.Forward(h),
                    Upsample u => u.Forward(h),
                    _ => h,
                };
            }
            if (_isEncoder) h = MidForward(h);
            return _convOut.Forward(Ops.Silu(_normOut.Forward(h)));
        }

        private Tensor MidForward(Tensor h) => _mid2.Forward(_mid1.Forward(_mid0.Forward(h)));
    }

    /// <summary>mid.0 (res), mid.1 (attn), mid.2 (res).</summary>
    private sealed class Mid : Module
    {
        public ResnetBlock Res0 { get; }
        public AttnBlock Attn { get; }
        public ResnetBlock Res2 { get; }

        public Mid(VqConfig c, int channels)
        {
            Res0 = RegisterModule("0", new ResnetBlock(c, channels, channels));
            Attn = RegisterModule("1", new AttnBlock(c, channels));
            Res2 = RegisterModule("2", new ResnetBlock(c, channels, channels));
        }
    }

    /// <summary>conv_blocks: levels named "0", "1", ...</summary>
    private sealed class LevelList : Module
    {
        private int _count;

        public Level AddLevel() => RegisterModule((_count++).ToString(System.Globalization.CultureInfo.InvariantCulture), new Level());
    }

    /// <summary>One level: res, attn, downsample/upsample.</summary>
    private sealed class Level : Module
    {
        public T Add<T>(string name, T module) where T : Module => RegisterModule(name, module);
    }
}
