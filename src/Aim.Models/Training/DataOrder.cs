// Holds: the sample order of a run: a fresh Fisher-Yates permutation of [0, N) per epoch from the run seed,
// so the whole order is a function of (seed, position) and a resumed run continues at the same sample.
using Aim.Engine.Random;

namespace Aim.Models.Training;

/// <summary>Epoch-wise shuffled sample indices addressed by a global position (samples consumed so far).</summary>
public sealed class DataOrder
{
    private readonly int _count;
    private readonly ulong _seed;
    private long _epoch = -1;
    private int[] _perm = [];

    /// <summary>An order over <paramref name="count"/> samples for <paramref name="seed"/>.</summary>
    public DataOrder(int count, ulong seed)
    {
        if (count < 1) throw new ArgumentException($"the dataset is empty ({count} samples)");
        _count = count;
        _seed = seed;
    }

    /// <summary>The sample at global position <paramref name="position"/>.</summary>
    public int At(long position)
    {
        long epoch = position / _count;
        if (epoch != _epoch)
        {
            var rng = new Rng(_seed).Fork(0x0DA7A000UL + (ulong)epoch);
            _perm = new int[_count];
            for (int i = 0; i < _count; i++) _perm[i] = i;
            for (int i = _count - 1; i > 0; i--)
            {
                int j = rng.NextInt(i + 1);
                (_perm[i], _perm[j]) = (_perm[j], _perm[i]);
            }
            _epoch = epoch;
        }
        return _perm[(int)(position % _count)];
    }

    /// <summary>The <paramref name="count"/> samples starting at <paramref name="position"/>.</summary>
    public int[] Take(long position, int count)
    {
        var r = new int[count];
        for (int i = 0; i < count; i++) r[i] = At(position + i);
        return r;
    }
}
