namespace XtacGateway.Policies;

/// <summary>Log lines of the shared policy sources (event IDs 1100-1199).</summary>
internal static partial class PolicySourceLog
{
    [LoggerMessage(1101, LogLevel.Warning, "Policy source {Source} could not be read or gave no valid policy; policy version {Version} stays in force, next attempt in {RetryMs} ms: {Reason}")]
    public static partial void SourceUnreachable(ILogger logger, string source, long version, double retryMs, string reason);

    [LoggerMessage(1102, LogLevel.Information, "Policy source {Source} is read again.")]
    public static partial void SourceRecovered(ILogger logger, string source);

    [LoggerMessage(1103, LogLevel.Warning, "Policy source {Source} could not be read at start-up; starting with the last known good policy version {Version} from {Path}.")]
    public static partial void StartedFromLastKnownGood(ILogger logger, string source, long version, string path);

    [LoggerMessage(1104, LogLevel.Error, "Policy source {Source} could not be read at start-up and no last known good policy exists at {Path}: cross-tenant requests are denied until it is read.")]
    public static partial void StartedWithoutPolicy(ILogger logger, string source, string path);

    [LoggerMessage(1105, LogLevel.Information, "Seeded the empty Redis policy store with version {Version} from {Origin}.")]
    public static partial void Seeded(ILogger logger, long version, string origin);

    [LoggerMessage(1106, LogLevel.Warning, "Could not write the last known good policy to {Path}: {Reason}")]
    public static partial void LastKnownGoodNotWritten(ILogger logger, string path, string reason);

    [LoggerMessage(1107, LogLevel.Warning, "Microsoft Graph answered {Status}; retrying {Url} after {DelayMs} ms.")]
    public static partial void GraphThrottled(ILogger logger, int status, string url, double delayMs);

    [LoggerMessage(1108, LogLevel.Warning, "The last known good policy at {Path} is unreadable and was ignored: {Reason}")]
    public static partial void LastKnownGoodUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(1109, LogLevel.Warning, "Could not delete the replaced policy document {Key}; it stays in Redis unused: {Reason}")]
    public static partial void ReplacedDocumentNotRemoved(ILogger logger, string key, string reason);

    [LoggerMessage(1110, LogLevel.Error, "Redis holds policy version {RedisVersion}, older than version {InForce} in force here (a failover or restore lost changes); the policy in force was written back as version {Version}.")]
    public static partial void Reasserted(ILogger logger, long redisVersion, long inForce, long version);

    [LoggerMessage(1111, LogLevel.Error, "Redis holds policy version {Version} as {RedisETag}, but version {Version} in force here is {InForceETag}: after Redis went back in time, another change took the same number. Redis's policy is taken, as on every instance; the change that made {InForceETag} is lost from the store and must be made again. The lost policy: {Kept}")]
    public static partial void Diverged(ILogger logger, long version, string redisETag, string inForceETag, string kept);

    [LoggerMessage(1113, LogLevel.Error, "Redis holds policy version {RedisVersion} as {RedisETag}, older than version {InForce} ({InForceETag}) in force here, and was written to after it went back in time (a failover or restore lost changes, then an admin changed what was left). Putting version {InForce} back would undo that change, so Redis's policy is taken; the changes after version {RedisVersion} that Redis lost must be made again. The lost policy: {Kept}")]
    public static partial void WrittenAfterLoss(ILogger logger, long redisVersion, string redisETag, long inForce, string inForceETag, string kept);

    [LoggerMessage(1114, LogLevel.Warning, "The Redis key {Key}, the document of policy version {Version} in force, was missing (evicted under a maxmemory policy, or deleted by hand) and was stored again. Give Redis 'maxmemory-policy noeviction', or a memory limit the policy's documents fit in.")]
    public static partial void DocumentStoredAgain(ILogger logger, string key, long version);

    [LoggerMessage(1116, LogLevel.Warning, "The Redis key {Key}, the document of policy version {Version} in force, is missing and could not be stored again (the next check tries again): {Reason}")]
    public static partial void DocumentNotStoredAgain(ILogger logger, string key, long version, string reason);

    [LoggerMessage(1117, LogLevel.Warning, "The sweep for unnamed policy documents in Redis failed (the next sweep tries again; the policy is unaffected): {Reason}")]
    public static partial void SweepFailed(ILogger logger, string reason);

    [LoggerMessage(1115, LogLevel.Information, "Deleted the policy document {Key} from Redis: no pointer has named it for a whole sweep interval (a change whose answer never came, or a crash between storing and naming it).")]
    public static partial void UnnamedDocumentDeleted(ILogger logger, string key);

    [LoggerMessage(1112, LogLevel.Warning, "Policy source {Source} is unreachable at start-up; waiting up to {WaitMs} ms for it before starting with the last known good policy: {Reason}")]
    public static partial void WaitingAtStartup(ILogger logger, string source, double waitMs, string reason);
}
