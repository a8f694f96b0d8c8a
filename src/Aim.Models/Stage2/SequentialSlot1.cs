using Aim.Engine.Nn;

namespace Aim.Models.Stage2;

/// <summary>
/// PyTorch's nn.Sequential(SiLU(), Linear(...)): index 0 has no parameters, so the Linear's keys are ".1.weight"
/// and ".1.bias". The SiLU is applied by the caller.
/// </summary>
public sealed class SequentialSlot1 : Module
{
    /// <summary>The Linear at index 1.</summary>
    public Linear Linear { get; }

    /// <summary>Linear(inFeatures → outFeatures, bias) registered as "1".</summary>
    public SequentialSlot1(int inFeatures, int outFeatures) => Linear = RegisterModule("1", new Linear(inFeatures, outFeatures, bias: true));
}
