namespace Aim.Engine.Backends;

/// <summary>
/// Device work recorded once and replayed many times: a CUDA graph on GPUs, the body itself on the CPU.
/// </summary>
/// <remarks>
/// The recorded body must be replayable: it may read and write only tensors that outlive the recording
/// (inputs and outputs are such tensors, updated in place with <c>Ops.CopyInto</c> or in-place kernels), must not
/// copy between host and device, and must queue the same work every time. Its temporaries are freed when the
/// body returns; on the GPU their memory stays reserved for the graph until it is disposed.
/// Recording does not run the work: the body's effects happen on <see cref="Replay"/>.
/// </remarks>
public abstract class RecordedWork : IDisposable
{
    /// <summary>Queues one run of the recorded work (asynchronously on GPUs).</summary>
    public abstract void Replay();

    /// <summary>Releases the recording (a graph and the memory reserved for it).</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>The CPU's "recording": replay runs the body, each run's temporaries freed when it returns.</summary>
internal sealed class EagerWork(Action body) : RecordedWork
{
    public override void Replay()
    {
        using var scope = Tensors.TensorScope.Open();
        body();
    }
}
