// Holds: token-shard round trip and the reader's validation errors.
using System.Text.Json.Nodes;
using Aim.Engine.IO;
using Aim.Engine.Tensors;
using Aim.Models.Data;

namespace Aim.Models.Tests.Data;

public class TokenShardsTests
{
    private static readonly TokenShardMetadata s_meta = new(3, 2, 50, ["cat", "dog \"big\"", "ünï"], "test data");

    private static (int[] Codes, int[] Labels) Write(string folder, int count, int shardSize)
    {
        var writer = new TokenShardWriter(folder, s_meta, shardSize);
        var codes = new int[count * 4];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            for (int j = 0; j < 4; j++) codes[i * 4 + j] = (i * 13 + j * 7) % 50;
            labels[i] = i % 3;
            writer.Add(codes.AsSpan(i * 4, 4), labels[i]);
        }
        writer.Complete();
        return (codes, labels);
    }

    [Fact]
    public void RoundTrip()
    {
        using var dir = new TempFolder();
        var (codes, labels) = Write(dir.Path, 7, 3);
        var set = TokenShardSet.Open(dir.Path);
        Assert.Equal(7, set.Count);
        Assert.Equal(["shard-00000.safetensors", "shard-00001.safetensors", "shard-00002.safetensors"], set.Shards);
        Assert.Equal([3, 3, 1], set.ShardCounts);
        Assert.True(set.Metadata.SameAs(s_meta));
        var (c, l) = set.ReadAll();
        Assert.Equal(codes, c);
        Assert.Equal(labels, l);
        Assert.Equal(labels[3..6], set.ReadShard(1).Labels);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
        Assert.Empty(Directory.GetFiles(dir.Path, ".*"));

        using var shard = SafetensorsFile.Open(dir.Combine("shard-00001.safetensors"));
        Assert.Equal("aim-token-shard/1", shard.Metadata["format"]);
        Assert.Equal("[\"cat\",\"dog \\\"big\\\"\",\"ünï\"]", shard.Metadata["class_names"]);
        Assert.Equal([3, 4], shard.Entry("codes").Shape);
        Assert.Equal("I32", shard.Entry("labels").FileDType);
    }

    [Fact]
    public void WriterRejectsBadRows()
    {
        using var dir = new TempFolder();
        var writer = new TokenShardWriter(dir.Path, s_meta, 4);
        Assert.Throws<ArgumentException>(() => writer.Add([1, 2, 3], 0));
        Assert.Throws<ArgumentException>(() => writer.Add([1, 2, 3, 50], 0));
        Assert.Throws<ArgumentException>(() => writer.Add([1, 2, 3, 4], 3));
        Assert.Throws<ArgumentException>(() => new TokenShardWriter(dir.Path, s_meta with { ClassNames = ["a"] }));
    }

    [Fact]
    public void ReaderValidates()
    {
        using var dir = new TempFolder();
        Assert.Throws<FileNotFoundException>(() => TokenShardSet.Open(dir.Path));
        Write(dir.Path, 5, 2);
        string index = dir.Combine("tokens.json");
        string good = File.ReadAllText(index);

        void Expect<T>(Func<JsonObject, JsonObject> edit, string fragment) where T : Exception
        {
            File.WriteAllText(index, edit(JsonNode.Parse(good)!.AsObject()).ToJsonString());
            var e = Assert.Throws<T>(() => TokenShardSet.Open(dir.Path));
            Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
        }
        Expect<InvalidDataException>(o => { o["format"] = "other/2"; return o; }, "format 'other/2'");
        Expect<InvalidDataException>(o => { o["count"] = 6; return o; }, "count 6");
        Expect<InvalidDataException>(o => { o["grid"] = 3; return o; }, "differs from tokens.json");
        Expect<InvalidDataException>(o => { o["class_names"] = new JsonArray("a", "b"); return o; }, "class names");
        Expect<InvalidDataException>(o => { o["shards"] = new JsonArray("../x.safetensors"); return o; }, "plain file name");
        Expect<FileNotFoundException>(o => { o["shards"]!.AsArray().Add("shard-00009.safetensors"); return o; }, "shard-00009");
        File.WriteAllText(index, "{ nope");
        Assert.Throws<InvalidDataException>(() => TokenShardSet.Open(dir.Path));
        File.WriteAllText(index, good);

        // A shard whose codes are I64 or out of range.
        using (var codes = Tensor.FromArray(new long[] { 1, 2, 3, 4 }, [1, 4]))
        using (var labels = Tensor.FromArray(new[] { 0 }, [1]))
            SafetensorsWriter.Write(dir.Combine("shard-00002.safetensors"), [new("codes", codes), new("labels", labels)], s_meta.ToStrings());
        Assert.Contains("I64", Assert.Throws<InvalidDataException>(() => TokenShardSet.Open(dir.Path)).Message, StringComparison.Ordinal);
        using (var codes = Tensor.FromArray(new[] { 1, 2, 3, 99 }, [1, 4]))
        using (var labels = Tensor.FromArray(new[] { 0 }, [1]))
            SafetensorsWriter.Write(dir.Combine("shard-00002.safetensors"), [new("codes", codes), new("labels", labels)], s_meta.ToStrings());
        var set = TokenShardSet.Open(dir.Path);
        Assert.Contains("= 99", Assert.Throws<InvalidDataException>(() => set.ReadShard(2)).Message, StringComparison.Ordinal);
    }
}
