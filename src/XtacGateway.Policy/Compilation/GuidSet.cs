using System.Collections.Frozen;

namespace XtacGateway.Policy.Compilation;

/// <summary>
/// An immutable set of GUIDs sized for policy targets: most lists hold a handful of IDs, where a linear
/// scan of an array is both faster and far smaller than a hash set, and 100,000 partners each hold some.
/// </summary>
internal sealed class GuidSet
{
    private const int LinearScanLimit = 8;

    public static readonly GuidSet Empty = new([], null);

    private readonly Guid[] _small;
    private readonly FrozenSet<Guid>? _large;

    private GuidSet(Guid[] small, FrozenSet<Guid>? large)
    {
        _small = small;
        _large = large;
    }

    public int Count => _large?.Count ?? _small.Length;

    public static GuidSet Create(IEnumerable<Guid> ids)
    {
        var distinct = ids.Distinct().ToArray();
        return distinct.Length switch
        {
            0 => Empty,
            <= LinearScanLimit => new GuidSet(distinct, null),
            _ => new GuidSet([], distinct.ToFrozenSet()),
        };
    }

    public bool Contains(Guid id)
    {
        if (_large is not null)
        {
            return _large.Contains(id);
        }

        foreach (var candidate in _small)
        {
            if (candidate == id)
            {
                return true;
            }
        }

        return false;
    }

    public bool ContainsAny(Guid[] ids)
    {
        if (Count == 0)
        {
            return false;
        }

        foreach (var id in ids)
        {
            if (Contains(id))
            {
                return true;
            }
        }

        return false;
    }
}
