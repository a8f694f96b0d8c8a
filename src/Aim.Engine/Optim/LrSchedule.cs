// Holds: learning-rate schedules with linear warm-up, as HF transformers defines them (spec §7.1: AiM uses
// `linear` = warm-up then linear decay to 0, and offers `cosine_with_min_lr`). Step s is 0-based: the learning
// rate of the (s+1)-th optimizer update, as the HF LambdaLR sees it.
namespace Aim.Engine.Optim;

/// <summary>The decay after warm-up.</summary>
public enum ScheduleKind
{
    /// <summary>Linear from the peak to 0 at the last step (get_linear_schedule_with_warmup).</summary>
    Linear,
    /// <summary>Half cosine from the peak to the minimum (get_cosine_with_min_lr_schedule_with_warmup).</summary>
    Cosine,
    /// <summary>The peak after warm-up (get_constant_schedule_with_warmup).</summary>
    Constant,
}

/// <summary>A learning-rate schedule over <see cref="TotalSteps"/> updates.</summary>
/// <param name="PeakLr">Learning rate reached at the end of warm-up.</param>
/// <param name="WarmupSteps">Updates with a linearly rising rate (HF: lr·s/warmup, so step 0 gets 0).</param>
/// <param name="TotalSteps">Updates in the run.</param>
/// <param name="Kind">Decay after warm-up.</param>
/// <param name="MinLr">Floor of the cosine schedule.</param>
public sealed record LrSchedule(double PeakLr, long WarmupSteps, long TotalSteps, ScheduleKind Kind = ScheduleKind.Linear, double MinLr = 0)
{
    /// <summary>Parses "linear", "cosine" or "constant".</summary>
    public static ScheduleKind ParseKind(string text) => text.ToLowerInvariant() switch
    {
        "linear" => ScheduleKind.Linear,
        "cosine" or "cosine_with_min_lr" => ScheduleKind.Cosine,
        "constant" => ScheduleKind.Constant,
        _ => throw new ArgumentException($"unknown schedule '{text}' (expected linear, cosine or constant)"),
    };

    /// <summary>Throws <see cref="ArgumentException"/> on inconsistent settings.</summary>
    public LrSchedule Validate()
    {
        if (!(PeakLr >= 0) || !double.IsFinite(PeakLr)) throw new ArgumentException($"learning rate {PeakLr} must be a non-negative number");
        if (WarmupSteps < 0 || TotalSteps < 1) throw new ArgumentException($"warm-up {WarmupSteps} must be ≥ 0 and total steps {TotalSteps} ≥ 1");
        if (!(MinLr >= 0) || MinLr > PeakLr) throw new ArgumentException($"minimum learning rate {MinLr} must lie in [0, {PeakLr}]");
        return this;
    }

    /// <summary>The learning rate of 0-based update <paramref name="step"/>.</summary>
    public double At(long step)
    {
        if (step < WarmupSteps) return PeakLr * step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Kind switch
        {
            ScheduleKind.Linear => PeakLr * Math.Max(0.0, 1 - progress),
            ScheduleKind.Cosine => MinLr + (PeakLr - MinLr) * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1.0, progress))),
            _ => PeakLr,
        };
    }
}
