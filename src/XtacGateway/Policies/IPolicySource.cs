using XtacGateway.Admin;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Model;

namespace XtacGateway.Policies;

/// <summary>The policy source in force (File, Redis or Graph): what the admin API reloads and writes through.</summary>
internal interface IPolicySource
{
    /// <summary>For logs and problem details: "file", "redis", "graph".</summary>
    string Name { get; }

    /// <summary>Why the admin API cannot change the policy here (Graph: change it in Entra), or null when it can.</summary>
    string? ReadOnlyReason { get; }

    /// <summary>Reads the source now and swaps in a newer policy when there is one.</summary>
    Task ReloadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="draft"/> (validated and compiled, not yet numbered; its document is
    /// <see cref="PolicySnapshot.DocumentUtf8"/>) as the new policy, but only if the policy in the source is still the one
    /// with <paramref name="basisETag"/>: a compare-and-set, so concurrent editors cannot overwrite each other. A source
    /// that can record <paramref name="audit"/> in the same step as the change (Redis) does, and says so in
    /// <see cref="PolicyCommitResult.AuditRecorded"/>; the version and ETag are filled in by the commit.
    /// </summary>
    Task<PolicyCommitResult> CommitAsync(PolicySnapshot draft, string basisETag, AuditEntry audit, CancellationToken cancellationToken);
}

internal enum PolicyCommitStatus
{
    Committed,

    /// <summary>The source holds another version than the basis: reload and retry, or answer 412.</summary>
    Conflict,

    /// <summary>The source cannot be reached; nothing changed, unless the detail says the outcome is unknown (a timeout after the change was sent).</summary>
    Unavailable,

    ReadOnly,
}

internal readonly record struct PolicyCommitResult(PolicyCommitStatus Status, PolicySnapshot? Snapshot = null, string? Detail = null, bool AuditRecorded = false);
