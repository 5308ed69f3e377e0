using System.Globalization;

namespace XtacGateway.Policies;

/// <summary>
/// A Redis stream entry ID, <c>milliseconds-sequence</c>: Redis hands them out in increasing order, so a later entry in
/// the audit stream has a greater ID.
/// </summary>
internal readonly record struct AuditStreamId(long Milliseconds, long Sequence) : IComparable<AuditStreamId>
{
    /// <summary>The ID, or null for none (an empty or absent stream) or text that is not one.</summary>
    public static AuditStreamId? Parse(string? text)
    {
        var dash = text?.IndexOf('-', StringComparison.Ordinal) ?? -1;
        return dash > 0
            && long.TryParse(text.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds)
            && long.TryParse(text.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
            ? new AuditStreamId(milliseconds, sequence)
            : null;
    }

    public int CompareTo(AuditStreamId other)
        => Milliseconds != other.Milliseconds ? Milliseconds.CompareTo(other.Milliseconds) : Sequence.CompareTo(other.Sequence);

    public static bool operator >(AuditStreamId left, AuditStreamId right) => left.CompareTo(right) > 0;

    public static bool operator <(AuditStreamId left, AuditStreamId right) => left.CompareTo(right) < 0;

    public static bool operator >=(AuditStreamId left, AuditStreamId right) => left.CompareTo(right) >= 0;

    public static bool operator <=(AuditStreamId left, AuditStreamId right) => left.CompareTo(right) <= 0;

    public override string ToString() => $"{Milliseconds}-{Sequence}";
}
