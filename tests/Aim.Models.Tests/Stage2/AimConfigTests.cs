using Aim.Models.Stage2;

namespace Aim.Models.Tests.Stage2;

/// <summary>config.json round trips and the decode_positions extension (spec §11 Q1).</summary>
public class AimConfigTests
{
    [Fact]
    public void OfficialConfigDecodesWithTheStepOffsetAndWritesNoExtraKey()
    {
        var config = AimConfig.FromJson(AimConfig.AimB.ToJson(), "test");
        Assert.Equal(DecodePositions.StepOffset, config.DecodePositions);
        Assert.DoesNotContain("decode_positions", AimConfig.AimB.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void TrainingPositionsRoundTrip()
    {
        string json = (AimConfig.AimB with { DecodePositions = DecodePositions.Training }).ToJson();
        Assert.Contains("\"decode_positions\": \"training\"", json, StringComparison.Ordinal);
        Assert.Equal(AimConfig.AimB with { DecodePositions = DecodePositions.Training }, AimConfig.FromJson(json, "test"));
    }

    [Fact]
    public void UnknownPositionConventionIsNamed()
    {
        string json = AimConfig.AimB.ToJson().Replace("\"d_model\"", "\"decode_positions\": \"sideways\", \"d_model\"", StringComparison.Ordinal);
        var e = Assert.Throws<InvalidDataException>(() => AimConfig.FromJson(json, "cfg.json"));
        Assert.Contains("decode_positions 'sideways'", e.Message, StringComparison.Ordinal);
    }
}
