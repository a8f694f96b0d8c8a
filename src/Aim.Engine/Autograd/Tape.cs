using Aim.Engine.Tensors;

namespace Aim.Engine.Autograd;

/// <summary>
/// The define-by-run tape: every differentiable op whose inputs need gradients appends an entry with its
/// backward function; <see cref="Backward"/> walks the entries in reverse, sums gradients per tensor and
/// accumulates them into the leaves' <see cref="Tensor.Grad"/>. One tape per thread.
/// </summary>
public static class Tape
{
    /// <summary>
    /// Maps output gradients (null where an output got none) to input gradients (null where an input needs none).
    /// Gradients must have the inputs' shapes.
    /// </summary>
    public delegate Tensor?[] BackwardFunction(Tensor?[] dOutputs);

    // Slice: for a Narrow entry, the (dimension, start) of the output inside the input; its gradient is added into
    // that slice of the input's gradient instead of being returned by Backward.
    // Saved: extra tensors the backward reads that are neither inputs nor outputs (e.g. an input's bf16 copy), held like them.
    private sealed record Entry(Tensor[] Outputs, Tensor[] Inputs, BackwardFunction? Backward, string Op, (int Dim, int Start)? Slice = null, Tensor[]? Saved = null);

    [ThreadStatic] private static List<Entry>? t_entries;
    [ThreadStatic] private static int t_noGradDepth;
    [ThreadStatic] private static SlotContext? t_slots;

    /// <summary>True when ops record onto the tape (not inside <see cref="NoGrad"/>).</summary>
    public static bool IsRecording => t_noGradDepth == 0;

    /// <summary>Number of entries recorded and not yet consumed (for tests and leak checks).</summary>
    public static int Count => t_entries?.Count ?? 0;

    /// <summary>Turns recording off until the returned scope is disposed (inference, optimizer updates).</summary>
    public static NoGradScope NoGrad()
    {
        t_noGradDepth++;
        return new NoGradScope();
    }

    /// <summary>Restores recording when disposed.</summary>
    public readonly struct NoGradScope : IDisposable
    {
        /// <inheritdoc />
        public void Dispose() => t_noGradDepth--;
    }

    /// <summary>True if any input needs a gradient and recording is on.</summary>
    public static bool ShouldRecord(params ReadOnlySpan<Tensor> inputs)
    {
        if (t_noGradDepth != 0) return false;
        foreach (var t in inputs)
            if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Records a single-output op (call only when <see cref="ShouldRecord"/> said yes).</summary>
    public static void Record(string op, Tensor output, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
        => Record(op, [output], inputs, d => d[0] is null ? new Tensor?[inputs.Length] : backward(d[0]!));

    /// <summary>
    /// Records a single-output op whose backward also reads <paramref name="saved"/>: tensors it made in the forward that
    /// are not its inputs (the autocast product's bf16 operands). They are held like inputs: the caller may dispose them
    /// right after recording, and they are freed when the tape lets go of the entry.
    /// </summary>
    public static void Record(string op, Tensor output, Tensor[] inputs, Tensor[] saved, Func<Tensor, Tensor?[]> backward)
        => Append(op, [output], inputs, d => d[0] is null ? new Tensor?[inputs.Length] : backward(d[0]!), saved);

    /// <summary>Records a multi-output op.</summary>
    public static void Record(string op, Tensor[] outputs, Tensor[] inputs, BackwardFunction backward) => Append(op, outputs, inputs, backward, null);

    /// <summary>Records a multi-output op whose backward also reads <paramref name="saved"/>, held as in the single-output overload.</summary>
    public static void Record(string op, Tensor[] outputs, Tensor[] inputs, Tensor[] saved, BackwardFunction backward) => Append(op, outputs, inputs, backward, saved);

    private static void Append(string op, Tensor[] outputs, Tensor[] inputs, BackwardFunction backward, Tensor[]? saved)
    {
        foreach (var o in outputs)
        {
            o.RequiresGrad = true;
            o.MarkNonLeaf();
            o.HoldForTape();
        }
        // Backward functions read their inputs: keep them alive until the tape is consumed.
        foreach (var i in inputs) i.HoldForTape();
        if (saved is not null)
            foreach (var s in saved) s.HoldForTape();
        (t_entries ??= []).Add(new Entry(outputs, inputs, backward, op, Saved: saved));
    }

    /// <summary>
    /// Records <paramref name="output"/> = narrow(<paramref name="input"/>, <paramref name="dim"/>, start, length) (a
    /// view). In <see cref="Backward"/> its gradient is added into that slice of the input's gradient: the slices of
    /// one tensor (Mamba's z | xBC | dt split, the conv output's x | B | C split) meet in one buffer instead of a
    /// zero-padded full-size tensor per slice summed by full-size adds.
    /// </summary>
    public static void RecordNarrow(Tensor output, Tensor input, int dim, int start)
    {
        output.RequiresGrad = true;
        output.MarkNonLeaf();
        output.HoldForTape();
        input.HoldForTape();
        (t_entries ??= []).Add(new Entry([output], [input], null, "Narrow", (dim, start)));
    }

    /// <summary>Forgets everything recorded on this thread (e.g. after an aborted step).</summary>
    public static void Clear()
    {
        if (t_entries is null) return;
        ReleaseAll(t_entries);
    }

    private static void ReleaseAll(List<Entry> entries)
    {
        foreach (var e in entries)
        {
            foreach (var o in e.Outputs) o.ReleaseFromTape();
            foreach (var i in e.Inputs) i.ReleaseFromTape();
            if (e.Saved is not null)
                foreach (var s in e.Saved) s.ReleaseFromTape();
        }
        entries.Clear();
    }

    /// <summary>
    /// Back-propagates from <paramref name="root"/> (seeded with ones, or <paramref name="seed"/>) and adds the
    /// gradients into every leaf that requires one. The tape is consumed. Intermediate gradients belong to
    /// the current <see cref="TensorScope"/>; leaf gradients are owned by their leaves.
    /// </summary>
    public static void Backward(Tensor root, Tensor? seed = null)
    {
        var entries = t_entries;
        if (!root.RequiresGrad || entries is null)
            throw new InvalidOperationException("Backward: the tensor does not depend on anything that requires a gradient");
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        // Gradient buffers this method allocated itself (sums, slice accumulators): nothing else aliases them, so
        // slices may be added into them in place.
        var owned = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var written = new Dictionary<Tensor, List<(int Dim, int Start, int Length)>>(ReferenceEqualityComparer.Instance);
        // Slice buffers allocated empty: only the slices listed in `written` hold values until Materialize zeroes the rest
        // (when the buffer is first read), so a split the slices cover completely (Mamba's z | xBC | dt) is never filled.
        var lazy = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        grads[root] = seed ?? Tensor.Full(root.Shape, 1.0, root.DType, root.Device);
        var slots = new SlotContext(entries, grads, owned, written, lazy);
        try
        {
            using (NoGrad())
            {
                for (int e = entries.Count - 1; e >= 0; e--)
                {
                    var entry = entries[e];
                    var dOut = new Tensor?[entry.Outputs.Length];
                    bool any = false;
                    for (int i = 0; i < dOut.Length; i++)
                    {
                        if (grads.Remove(entry.Outputs[i], out var g))
                        {
                            Materialize(lazy, written, g);
                            dOut[i] = g;
                            any = true;
                        }
                    }
                    if (!any) continue;
                    if (entry.Slice is { } slice)
                    {
                        AccumulateSlice(grads, owned, written, lazy, entry.Inputs[0], dOut[0]!, slice.Dim, slice.Start);
                        continue;
                    }
                    Tensor?[] dIn;
                    slots.Begin(entry);
                    t_slots = slots;
                    try
                    {
                        dIn = entry.Backward!(dOut);
                    }
                    finally
                    {
                        t_slots = null;
                    }
                    if (dIn.Length != entry.Inputs.Length)
                        throw new InvalidOperationException($"{entry.Op} backward returned {dIn.Length} gradients for {entry.Inputs.Length} inputs");
                    slots.End(dIn);
                    for (int i = 0; i < dIn.Length; i++)
                    {
                        var x = entry.Inputs[i];
                        var g = dIn[i];
                        if (g is null || !x.RequiresGrad || slots.Delivered(i)) continue;
                        if (!g.Shape.SequenceEqual(x.Shape))
                            throw new InvalidOperationException($"{entry.Op} backward: gradient {Tensor.ShapeString(g.Shape)} for input {Tensor.ShapeString(x.Shape)}");
                        // A leaf may keep the gradient buffer itself when this backward hands it out once and it is not the caller's seed.
                        if (x.IsLeaf) x.AccumulateGrad(g, mayAdopt: !ReferenceEquals(g, seed) && Array.IndexOf(dIn, g) == i && Array.LastIndexOf(dIn, g) == i);
                        else if (grads.TryGetValue(x, out var prev))
                        {
                            Materialize(lazy, written, prev);
                            owned.Add(grads[x] = Operations.Ops.Add(prev, g));
                        }
                        else grads[x] = g;
                    }
                }
            }
            if (root.IsLeaf)
            {
                Materialize(lazy, written, grads[root]);
                root.AccumulateGrad(grads[root]);
            }
        }
        finally
        {
            // Saved tensors are released even when a backward throws, so a failed step leaks nothing.
            slots.Dispose();
            ReleaseAll(entries);
        }
    }

    /// <summary>
    /// Called by a backward function while <see cref="Backward"/> runs it: a view of the gradient buffer that
    /// <paramref name="input"/>'s gradient would be copied into unchanged, or null. It exists when <paramref name="input"/>
    /// is a Narrow of a non-leaf (Mamba's z and xBC, slices of in_proj's output) or a Reshape of one (x, B and C, slices of
    /// the conv output), this entry is its only consumer (and the Reshape the Narrow's), and that part of the buffer is not
    /// written yet. A backward that writes the gradient into the view and returns the view itself saves the copy (its
    /// kernel must accept an output with the view's strides); returning anything else is always correct. Null outside a
    /// running backward.
    /// </summary>
    /// <param name="input">One of the running entry's inputs.</param>
    /// <returns>A view with <paramref name="input"/>'s shape (strides of the parent's gradient), or null.</returns>
    public static Tensor? GradientSlot(Tensor input) => t_slots?.Slot(input);

    /// <summary>
    /// Adds <paramref name="g"/> into the slice at (<paramref name="dim"/>, <paramref name="start"/>) of <paramref name="x"/>'s gradient.
    /// <paramref name="written"/> lists the slices already stored into each buffer this pass started: a slice that
    /// overlaps none of them is copied into place (no add), which is the common case of a split (Mamba's z | xBC | dt).
    /// A non-leaf's first slice allocates the buffer empty (<paramref name="lazy"/>): the parts no slice writes are zeroed
    /// by <see cref="Materialize"/> before the buffer is read, so a buffer the slices cover is never filled.
    /// </summary>
    private static void AccumulateSlice(Dictionary<Tensor, Tensor> grads, HashSet<Tensor> owned, Dictionary<Tensor, List<(int Dim, int Start, int Length)>> written,
        HashSet<Tensor> lazy, Tensor x, Tensor g, int dim, int start)
    {
        if (!x.RequiresGrad) return;
        int length = g.Shape[dim];
        if (!x.IsLeaf && grads.TryGetValue(x, out var buffer) && owned.Contains(buffer))
        {
            using var slot = Operations.Ops.Narrow(buffer, dim, start, length);
            if (written.TryGetValue(buffer, out var slices) && slices.TrueForAll(s => s.Dim == dim && (s.Start + s.Length <= start || start + length <= s.Start)))
            {
                Operations.Ops.CopyInto(g, slot);
                slices.Add((dim, start, length));
                return;
            }
            Materialize(lazy, written, buffer);             // the add reads the slot: zeros where no slice wrote yet
            written.Remove(buffer);                         // overlapping slices: adds from here on
            using var sum = Operations.Ops.Add(slot, g);
            Operations.Ops.CopyInto(sum, slot);
            return;
        }
        // First slice (or a full gradient that may alias another tensor): a buffer of x's shape, ours to add into; a leaf
        // adopts it, so it starts zeroed, a non-leaf's starts empty and is zeroed where no slice wrote at its first read.
        Tensor? earlier = null;
        if (!x.IsLeaf) grads.TryGetValue(x, out earlier);
        var fresh = earlier is not null ? Operations.Ops.Clone(earlier)
            : x.IsLeaf ? Tensor.Zeros(x.Shape, g.DType, g.Device) : Tensor.Empty(x.Shape, g.DType, g.Device);
        using (var first = Operations.Ops.Narrow(fresh, dim, start, length))
        {
            if (earlier is null) Operations.Ops.CopyInto(g, first);
            else
            {
                using var sum = Operations.Ops.Add(first, g);
                Operations.Ops.CopyInto(sum, first);
            }
        }
        if (x.IsLeaf)
        {
            x.AccumulateGrad(fresh, mayAdopt: true);
            return;
        }
        grads[x] = fresh;
        owned.Add(fresh);
        if (earlier is null)
        {
            written[fresh] = [(dim, start, length)];
            lazy.Add(fresh);
        }
    }

    /// <summary>
    /// Zeroes the parts of a lazily allocated slice buffer that no slice has written (all its slices share one dimension
    /// and are disjoint), once, before its first read; any other tensor is left alone.
    /// </summary>
    private static void Materialize(HashSet<Tensor> lazy, Dictionary<Tensor, List<(int Dim, int Start, int Length)>> written, Tensor buffer)
    {
        if (!lazy.Remove(buffer)) return;
        var slices = written[buffer];
        int dim = slices[0].Dim, at = 0, size = buffer.Shape[dim];
        foreach (var (_, start, length) in slices.OrderBy(s => s.Start).Append((dim, size, 0)))
        {
            if (start > at)
            {
                using var gap = Operations.Ops.Narrow(buffer, dim, at, start - at);
                using var zeros = Tensor.Zeros(gap.Shape, buffer.DType, buffer.Device);
                Operations.Ops.CopyInto(zeros, gap);
            }
            at = Math.Max(at, start + length);
        }
    }

    /// <summary>
    /// The bookkeeping behind <see cref="GradientSlot"/> for one <see cref="Backward"/> pass: which tensors are Narrow
    /// outputs (and of what) or Reshape views, how many entries read each tensor, and the slots handed to the running entry.
    /// </summary>
    private sealed class SlotContext(List<Entry> entries, Dictionary<Tensor, Tensor> grads, HashSet<Tensor> owned,
        Dictionary<Tensor, List<(int Dim, int Start, int Length)>> written, HashSet<Tensor> lazy) : IDisposable
    {
        // The name Ops.Reshape records its views under: a slot may reach a Narrow through them (Mamba's x, B and C are
        // reshaped slices of the conv output).
        private const string ReshapeOp = "Reshape";

        private readonly Dictionary<Tensor, Entry> _narrowOf = OutputsOf(entries, e => e.Slice is not null);
        private readonly Dictionary<Tensor, Entry> _reshapeOf = OutputsOf(entries, e => e.Op == ReshapeOp && e.Inputs.Length == 1);
        private readonly Dictionary<Tensor, int> _readers = Readers(entries);
        private readonly List<Issued> _issued = [];
        private readonly List<int> _delivered = [];
        private Entry? _entry;

        private readonly record struct Issued(int Input, Tensor View, Tensor Parent, Tensor Buffer, bool Fresh, (int Dim, int Start, int Length) Slice);

        private static Dictionary<Tensor, Entry> OutputsOf(List<Entry> entries, Func<Entry, bool> kind)
        {
            var map = new Dictionary<Tensor, Entry>(ReferenceEqualityComparer.Instance);
            foreach (var e in entries)
                if (kind(e)) map[e.Outputs[0]] = e;
            return map;
        }

        private static Dictionary<Tensor, int> Readers(List<Entry> entries)
        {
            var map = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
            foreach (var e in entries)
                foreach (var i in e.Inputs) map[i] = map.GetValueOrDefault(i) + 1;
            return map;
        }

        public void Begin(Entry entry)
        {
            _entry = entry;
            _issued.Clear();
            _delivered.Clear();
        }

        public Tensor? Slot(Tensor input)
        {
            if (_entry is null || !input.RequiresGrad) return null;
            int index = Array.IndexOf(_entry.Inputs, input);
            if (index < 0 || Array.LastIndexOf(_entry.Inputs, input) != index || _issued.Exists(s => s.Input == index)) return null;
            // Up through Reshape views to the Narrow: every tensor on the way read by one entry only and given no gradient yet.
            var sliced = input;
            Entry? narrow;
            while (true)
            {
                if (_readers.GetValueOrDefault(sliced) != 1 || grads.ContainsKey(sliced)) return null;
                if (_narrowOf.TryGetValue(sliced, out narrow)) break;
                if (!_reshapeOf.TryGetValue(sliced, out var reshape)) return null;
                sliced = reshape.Inputs[0];
            }
            var parent = narrow.Inputs[0];
            if (parent.IsLeaf || !parent.RequiresGrad) return null;
            var (dim, start) = narrow.Slice!.Value;
            var slice = (dim, start, sliced.Shape[dim]);
            // The slice of the (contiguous) gradient buffer must take input's shape as a view.
            if (!ReferenceEquals(sliced, input))
            {
                long[] strides = Tensor.ContiguousStrides(parent.Shape);
                if (Operations.Ops.ViewStrides(sliced.Shape, strides, input.Shape) is null) return null;
            }
            bool fresh = false;
            if (grads.TryGetValue(parent, out var buffer))
            {
                // Only a buffer of ours whose written slices are all disjoint from this one (same split dimension).
                if (!owned.Contains(buffer) || !written.TryGetValue(buffer, out var slices)
                    || !slices.TrueForAll(w => w.Dim == dim && (w.Start + w.Length <= start || start + slice.Item3 <= w.Start)))
                    return null;
            }
            else
            {
                buffer = Tensor.Empty(parent.Shape, input.DType, input.Device);
                grads[parent] = buffer;
                owned.Add(buffer);
                written[buffer] = [];
                lazy.Add(buffer);
                fresh = true;
            }
            var view = Operations.Ops.Narrow(buffer, dim, start, slice.Item3);
            if (!ReferenceEquals(sliced, input))
            {
                var shaped = Operations.Ops.Reshape(view, input.Shape);
                view.Dispose();
                view = shaped;
            }
            _issued.Add(new Issued(index, view, parent, buffer, fresh, slice));
            return view;
        }

        /// <summary>Marks the slots the backward returned as written; drops buffers made for slots it did not use.</summary>
        public void End(Tensor?[] dIn)
        {
            foreach (var s in _issued)
            {
                if (!ReferenceEquals(dIn[s.Input], s.View)) continue;
                written[s.Buffer].Add(s.Slice);
                _delivered.Add(s.Input);
            }
            foreach (var s in _issued)
            {
                s.View.Dispose();
                if (s.Fresh && written[s.Buffer].Count == 0 && grads.TryGetValue(s.Parent, out var current) && ReferenceEquals(current, s.Buffer))
                {
                    grads.Remove(s.Parent);
                    owned.Remove(s.Buffer);
                    written.Remove(s.Buffer);
                    lazy.Remove(s.Buffer);
                    s.Buffer.Dispose();
                }
            }
            _issued.Clear();
            _entry = null;
        }

        /// <summary>True when input <paramref name="index"/>'s gradient went into its slot (nothing left to store).</summary>
        public bool Delivered(int index) => _delivered.Contains(index);

        public void Dispose()
        {
            foreach (var s in _issued) s.View.Dispose();
            _issued.Clear();
        }
    }
}
