// Holds: pre-tokenization of a dataset with the frozen VQ (what `aim tokenize` runs): every image is encoded to its
// grid² codes (float32, no autocast, so codes are the exact fp32 argmin, spec §7.2 notes AiM's on-the-fly bf16
// tokenization can differ at near ties) and written as token shards (TokenShards.cs). Output appears all at once:
// shards and tokens.json are written into a hidden sibling folder that is renamed to the target at the end and
// deleted on any failure.
using Aim.Engine.Autograd;
using Aim.Engine.Tensors;
using Aim.Models.Vq;

namespace Aim.Models.Data;

/// <summary>Encodes a whole dataset into a token-shard folder.</summary>
public static class DatasetTokenizer
{
    /// <summary>
    /// Encodes every image of <paramref name="data"/> with <paramref name="vq"/> into a new folder
    /// <paramref name="outDir"/> (which must not exist; missing parents are created) and returns the opened set.
    /// </summary>
    /// <param name="vq">The tokenizer (CPU, float32).</param>
    /// <param name="data">Images; their size must equal the VQ's image_size.</param>
    /// <param name="outDir">Target folder.</param>
    /// <param name="shardSize">Images per shard.</param>
    /// <param name="batchSize">Images per encoder call.</param>
    /// <param name="source">Recorded as the shards' <c>source</c> metadata.</param>
    /// <param name="progress">Called with the number of images encoded so far after each batch.</param>
    /// <exception cref="ArgumentException">The sizes do not match, or an option is out of range.</exception>
    /// <exception cref="IOException">The target exists.</exception>
    public static TokenShardSet Run(VqModel vq, IImageDataset data, string outDir, int shardSize = 4096, int batchSize = 32,
        string source = "", Action<int>? progress = null)
    {
        var c = vq.Config;
        if (data.ImageSize != c.ImageSize)
            throw new ArgumentException($"tokenize: the dataset's images are {data.ImageSize}x{data.ImageSize} but the VQ encodes {c.ImageSize}x{c.ImageSize} (its image_size); open the data at that size (e.g. size={c.ImageSize} in the data spec)");
        if (data.Channels != c.InChannels)
            throw new ArgumentException($"tokenize: the dataset's images have {data.Channels} channels but the VQ takes {c.InChannels}");
        if (data.Count == 0) throw new ArgumentException("tokenize: the dataset has no images");
        if (shardSize < 1) throw new ArgumentException($"tokenize: shard size {shardSize} must be positive");
        if (batchSize < 1) throw new ArgumentException($"tokenize: batch size {batchSize} must be positive");
        var metadata = new TokenShardMetadata(data.ClassNames.Count, c.LatentSize, c.CodebookSize, data.ClassNames, source).Validate();

        string target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDir));
        if (Directory.Exists(target) || File.Exists(target)) throw new IOException($"tokenize: output {target} already exists (remove it or choose another --out)");
        string parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"tokenize: output {target} has no parent folder");
        var createdParents = new List<string>();
        for (string? p = parent; p is not null && !Directory.Exists(p); p = Path.GetDirectoryName(p)) createdParents.Add(p);
        Directory.CreateDirectory(parent);
        string temp = Path.Combine(parent, $".{Path.GetFileName(target)}.tmp-{Guid.NewGuid():N}");
        try
        {
            var writer = new TokenShardWriter(temp, metadata, shardSize);
            int plane = data.Channels * data.ImageSize * data.ImageSize;
            int t = metadata.TokensPerImage;
            var pixels = new float[Math.Min(batchSize, data.Count) * plane];
            var labels = new int[Math.Min(batchSize, data.Count)];
            for (int start = 0; start < data.Count; start += batchSize)
            {
                int n = Math.Min(batchSize, data.Count - start);
                for (int i = 0; i < n; i++) labels[i] = data.Read(start + i, pixels.AsSpan(i * plane, plane));
                long[] codes;
                using (TensorScope.Open())
                using (Tape.NoGrad())
                {
                    var images = Tensor.FromArray(n == labels.Length ? pixels : pixels[..(n * plane)], [n, data.Channels, data.ImageSize, data.ImageSize]);
                    codes = vq.Encode(images).ToArray<long>();   // (n, T)
                }
                var row = new int[t];
                for (int i = 0; i < n; i++)
                {
                    for (int j = 0; j < t; j++) row[j] = checked((int)codes[i * t + j]);
                    writer.Add(row, labels[i]);
                }
                progress?.Invoke(start + n);
            }
            writer.Complete();
            Directory.Move(temp, target);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            foreach (var p in createdParents)
                if (Directory.Exists(p) && !Directory.EnumerateFileSystemEntries(p).Any()) Directory.Delete(p);
            throw;
        }
        return TokenShardSet.Open(target);
    }
}
