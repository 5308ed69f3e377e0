using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using XtacGateway.Observability;
using XtacGateway.Policies;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Admin;

/// <summary>What an edit did to the document, or why it did nothing.</summary>
internal sealed record EditOutcome
{
    public EditStatus Status { get; init; } = EditStatus.Changed;

    public string? ActivityDisplayName { get; init; }

    public Guid? TargetTenant { get; init; }

    /// <summary>Where the edited object sits in the document (<c>$.default</c>, <c>$.partners[3]</c>): its errors are reported relative to the request body.</summary>
    public string? EditedPath { get; init; }

    public IReadOnlyList<AuditModifiedProperty> Changes { get; init; } = [];

    public string? Detail { get; init; }

    /// <summary>What the edit itself found wrong in the request body, reported with the changed policy's own errors.</summary>
    public IReadOnlyList<PolicyError> BodyErrors { get; init; } = [];

    public static EditOutcome Fail(EditStatus status, string detail) => new() { Status = status, Detail = detail };
}

internal enum EditStatus
{
    Changed,
    NotFound,
    Conflict,
    Invalid,
}

/// <summary>The result of <see cref="PolicyEditor.EditAsync"/>, which the endpoints turn into Graph's status codes.</summary>
internal sealed record EditResult(EditResultKind Kind, PolicySnapshot? Snapshot = null, string? Detail = null, IReadOnlyList<PolicyError>? Errors = null, JsonNode? Edited = null);

internal enum EditResultKind
{
    Committed,
    Unchanged,
    NotFound,
    Conflict,
    Invalid,
    PreconditionFailed,
    Unavailable,
    ReadOnly,
}

/// <summary>
/// Applies one admin change: on the JSON of the policy in force, then validated whole by <see cref="PolicyParser"/>, then
/// committed to the source with a compare-and-set on the ETag it was based on. Writes on one instance are serialized;
/// across instances the source's compare-and-set decides. With <c>If-Match</c> a lost race is a 412; without it the change
/// is re-applied to the newer policy (a PATCH changes only the properties sent, so nothing else is overwritten).
/// </summary>
internal sealed class PolicyEditor(
    PolicySnapshotStore store,
    IPolicySource source,
    IAuditLog audit,
    IOptions<GatewayOptions> options,
    TimeProvider time,
    LoggedUserIds loggedUserIds,
    ILogger<PolicyEditor> logger)
{
    private const int Attempts = 3;
    private readonly SemaphoreSlim _writes = new(1, 1);

    public async Task<EditResult> EditAsync(Func<EditablePolicy, EditOutcome> edit, string? ifMatch, AuditActor actor, CancellationToken cancellationToken)
    {
        // RFC 9110 13.1.1: "*" asks only that a policy exists, which every edit needs anyway. It names no version, so
        // losing a race to another instance is retried on the newer policy, as without If-Match, not answered 412.
        if (ifMatch?.Trim() == "*")
        {
            ifMatch = null;
        }

        await _writes.WaitAsync(cancellationToken);

        // An answer from this instance's copy alone (a stale If-Match, a partner missing or already there, nothing to
        // change) is given only once the source has confirmed the copy is its newest: another instance, or a hand edit
        // the file watcher has not seen yet, may have changed the policy a moment ago, and the change then applies to that.
        var sourceConfirmed = false;
        async Task<bool> CopyIsStaleAsync(PolicySnapshot basis)
        {
            if (sourceConfirmed)
            {
                return false;
            }

            sourceConfirmed = true;
            await source.ReloadAsync(cancellationToken);
            return store.Current is { } current && current.ETag != basis.ETag;
        }

        try
        {
            // A read-only source refuses every change alike, before its body is looked at.
            if (source.ReadOnlyReason is { } readOnlyReason)
            {
                return new EditResult(EditResultKind.ReadOnly, store.Current, readOnlyReason);
            }

            // Commits tried, not loop turns: the one re-read that confirms this instance's copy must not use one up.
            var commits = 0;
            while (true)
            {
                if (store.Current is not { } basis)
                {
                    return new EditResult(EditResultKind.Unavailable, Detail: "No policy is loaded yet, so there is nothing to change.");
                }

                if (ifMatch is not null && !Matches(ifMatch, basis.ETag))
                {
                    if (await CopyIsStaleAsync(basis))
                    {
                        continue;
                    }

                    return new EditResult(EditResultKind.PreconditionFailed, basis, $"If-Match {ifMatch} does not match the policy in force ({basis.ETag}, version {basis.Version}); nothing changed.");
                }

                // The snapshot already holds this document unindented, exactly as the writer would write it.
                var policy = EditablePolicy.Read(basis.DocumentUtf8);
                var outcome = edit(policy);
                if ((outcome.Status != EditStatus.Changed || outcome.Changes.Count == 0) && await CopyIsStaleAsync(basis))
                {
                    continue;
                }

                switch (outcome.Status)
                {
                    case EditStatus.NotFound:
                        return new EditResult(EditResultKind.NotFound, basis, outcome.Detail);
                    case EditStatus.Conflict:
                        return new EditResult(EditResultKind.Conflict, basis, outcome.Detail);
                    case EditStatus.Invalid:
                        return new EditResult(EditResultKind.Invalid, basis, outcome.Detail, [new PolicyError("$", outcome.Detail!)]);
                }

                if (outcome.Changes.Count == 0 && outcome.BodyErrors.Count == 0)
                {
                    return new EditResult(EditResultKind.Unchanged, basis, Edited: policy.NodeAt(outcome.EditedPath));
                }

                // Validated and compiled in one pass over the bytes, partner by partner (no typed model of the whole policy);
                // the source stores the draft as it is.
                var draft = PolicyCompiler.Compile(policy.ToUtf8(), options.Value.ResourceTenantId!.Value, default, out var errors);
                if (draft is null || outcome.BodyErrors.Count > 0)
                {
                    return new EditResult(EditResultKind.Invalid, basis, "The change would make the policy invalid; nothing changed.",
                        [.. outcome.BodyErrors, .. errors.Select(e => RelativeTo(e, outcome.EditedPath))]);
                }

                if (basis.DocumentUtf8.Span.SequenceEqual(draft.DocumentUtf8.Span))
                {
                    // The body differed only in how it spelled the same settings (a null for an absent property, another
                    // order): the document would be written as the same bytes, so there is no version to make or change to audit.
                    if (await CopyIsStaleAsync(basis))
                    {
                        continue;
                    }

                    return new EditResult(EditResultKind.Unchanged, basis, Edited: policy.NodeAt(outcome.EditedPath));
                }

                var entry = new AuditEntry
                {
                    Id = Guid.NewGuid().ToString(),
                    ActivityDateTime = time.GetUtcNow(),
                    ActivityDisplayName = outcome.ActivityDisplayName!,
                    InitiatedBy = actor,
                    TargetTenantId = outcome.TargetTenant?.ToString(),
                    ModifiedProperties = outcome.Changes,
                };
                commits++;
                var commit = await source.CommitAsync(draft, basis.ETag, entry, cancellationToken);
                switch (commit.Status)
                {
                    case PolicyCommitStatus.Committed:
                        var snapshot = commit.Snapshot!;
                        await RecordAsync(entry with { PolicyVersion = snapshot.Version, PolicyETag = snapshot.ETag }, commit.AuditRecorded);
                        return new EditResult(EditResultKind.Committed, snapshot, Edited: policy.NodeAt(outcome.EditedPath));
                    case PolicyCommitStatus.Conflict when ifMatch is null && commits < Attempts:
                        // Another instance changed the policy first: take its version and apply this change on top.
                        await source.ReloadAsync(cancellationToken);
                        continue;
                    case PolicyCommitStatus.Conflict when ifMatch is not null:
                        // Answered with the newer policy's ETag, so the client's next read-and-retry can succeed.
                        await source.ReloadAsync(cancellationToken);
                        return new EditResult(EditResultKind.PreconditionFailed, store.Current, $"{commit.Detail} Nothing changed; read the policy again and retry.");
                    case PolicyCommitStatus.Conflict:
                        return new EditResult(EditResultKind.Conflict, store.Current, $"{commit.Detail} The policy kept changing under {Attempts} attempts to apply this change; nothing changed, retry.");
                    case PolicyCommitStatus.ReadOnly:
                        return new EditResult(EditResultKind.ReadOnly, basis, commit.Detail);
                    default:
                        return new EditResult(EditResultKind.Unavailable, basis, commit.Detail);
                }
            }
        }
        catch (Exception ex) when (RedisConnection.IsUnreachable(ex))
        {
            return new EditResult(EditResultKind.Unavailable, store.Current, $"The policy store cannot be reached: {ex.Message}");
        }
        catch (StackExchange.Redis.RedisServerException ex)
        {
            // Redis answered but refused (a key of another type under the pointer's name, say): nothing changed.
            return new EditResult(EditResultKind.Unavailable, store.Current, $"The policy store refused the change: {ex.Message}");
        }
        catch (Exception ex) when (ex is InvalidDataException or PolicyRejectedException)
        {
            // Re-reading the source after a lost race found something it cannot use; the policy in force stays.
            return new EditResult(EditResultKind.Unavailable, store.Current, ex.Message);
        }
        finally
        {
            _writes.Release();
        }
    }

    /// <summary>Logs the change, and appends its audit entry unless the source recorded it with the change.</summary>
    private async Task RecordAsync(AuditEntry entry, bool recordedBySource)
    {
        if (!recordedBySource)
        {
            try
            {
                // The change is in force: neither the caller going away nor a failing audit store may turn it into an
                // error or cost it its audit entry.
                await audit.AppendAsync(entry, CancellationToken.None);
            }
            catch (Exception ex)
            {
                // Losing the entry of a change in force must be loud.
                AdminLog.AuditNotWritten(logger, entry.ActivityDisplayName, entry.PolicyVersion, ex.Message);
            }
        }

        AdminLog.PolicyChanged(logger, entry.ActivityDisplayName, entry.TargetTenantId,
            entry.InitiatedBy.ObjectId is { } actor ? loggedUserIds.Format(actor) : null, entry.InitiatedBy.TenantId, entry.PolicyVersion);
    }

    private static PolicyError RelativeTo(PolicyError error, string? editedPath)
    {
        if (editedPath is null)
        {
            return error;
        }

        if (error.Path == editedPath)
        {
            return error with { Path = "$" };
        }

        return error.Path.StartsWith(editedPath, StringComparison.Ordinal) && error.Path[editedPath.Length] is '.' or '['
            ? error with { Path = string.Concat("$", error.Path.AsSpan(editedPath.Length)) }
            : error;
    }

    private static bool Matches(string ifMatch, string etag)
    {
        // RFC 9110 13.1.1: If-Match compares strongly, so a weak entity tag never matches.
        foreach (var candidate in ifMatch.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (candidate == "*" || candidate == etag)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Changes to, and comparisons of, the policy document's JSON.</summary>
internal static class PolicyJson
{
    /// <summary>Sets each property of <paramref name="patch"/> on <paramref name="target"/>; returns the properties whose value changed.</summary>
    public static List<AuditModifiedProperty> Merge(JsonObject target, JsonObject patch)
    {
        var changes = new List<AuditModifiedProperty>();
        foreach (var (name, value) in patch)
        {
            var old = target[name];
            if (JsonNode.DeepEquals(old, value) && (old is not null || target.ContainsKey(name)))
            {
                continue;
            }

            changes.Add(new AuditModifiedProperty(name, old?.DeepClone(), value?.DeepClone()));
            target[name] = value?.DeepClone();
        }

        return changes;
    }

    /// <summary>Every property of <paramref name="before"/> and <paramref name="after"/> whose value differs.</summary>
    public static List<AuditModifiedProperty> Diff(JsonObject? before, JsonObject? after)
    {
        var names = new List<string>();
        foreach (var (name, _) in before ?? [])
        {
            names.Add(name);
        }

        foreach (var (name, _) in after ?? [])
        {
            if (!names.Contains(name))
            {
                names.Add(name);
            }
        }

        var changes = new List<AuditModifiedProperty>();
        foreach (var name in names)
        {
            var old = before?[name];
            var now = after?[name];
            if (!JsonNode.DeepEquals(old, now))
            {
                changes.Add(new AuditModifiedProperty(name, old?.DeepClone(), now?.DeepClone()));
            }
        }

        return changes;
    }
}

internal static partial class AdminLog
{
    [LoggerMessage(3001, LogLevel.Information, "{Activity} (target tenant {TargetTenant}) by {ActorObjectId} of {ActorTenant}: policy version {Version} in force.")]
    public static partial void PolicyChanged(ILogger logger, string activity, string? targetTenant, string? actorObjectId, string? actorTenant, long version);

    [LoggerMessage(3002, LogLevel.Critical, "{Activity} took effect as policy version {Version} but its audit entry could not be written: {Reason}")]
    public static partial void AuditNotWritten(ILogger logger, string activity, long version, string reason);

    [LoggerMessage(3003, LogLevel.Warning, "The line at byte {Offset} of the audit log {Path} is not a readable entry (torn by a crash or edited) and was skipped.")]
    public static partial void AuditLineUnreadable(ILogger logger, string path, long offset);

    [LoggerMessage(3004, LogLevel.Warning, "Entry {Id} of the audit stream {Key} is not a readable entry (written by something else, or edited) and was skipped.")]
    public static partial void AuditStreamEntryUnreadable(ILogger logger, string id, string key);
}
