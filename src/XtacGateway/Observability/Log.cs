namespace XtacGateway.Observability;

/// <summary>
/// Policy loads' (10xx, every source) and request decisions' log lines. Others keep their stable event IDs beside
/// their callers: the policy sources' own (11xx, <c>PolicySourceLog</c>), admin (3xxx), signing keys (4xxx), user IDs
/// (2003), shutdown (5001).
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1001, LogLevel.Information, "Policy version {Version} loaded from {Source}: {Partners} partners.")]
    public static partial void PolicyLoaded(ILogger logger, string source, long version, int partners);

    [LoggerMessage(1002, LogLevel.Error, "Policy from {Source} rejected with {ErrorCount} error(s); the policy in force is unchanged.{NewLine}{Errors}")]
    private static partial void PolicyRejected(ILogger logger, string source, int errorCount, string newLine, string errors);

    public static void PolicyRejected(ILogger logger, string source, int errorCount, string errors)
        => PolicyRejected(logger, source, errorCount, Environment.NewLine, errors);

    [LoggerMessage(1003, LogLevel.Warning, "Policy file {Path} could not be read: {Reason}")]
    public static partial void PolicyFileUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(1004, LogLevel.Error, "Checking the policy file {Path} failed in a way the check does not expect; it is read again at the next check.")]
    public static partial void PolicyFileCheckFailed(ILogger logger, string path, Exception exception);

    [LoggerMessage(2001, LogLevel.Information, "Denied {Reason} ({ErrorCode}) for app {AppId}, home tenant {HomeTenantId}, settings {SettingsSource}, user {User}, policy version {PolicyVersion}, trace {TraceId}.")]
    public static partial void RequestDenied(ILogger logger, string reason, string? errorCode, Guid appId, Guid? homeTenantId, string settingsSource, string? user, long policyVersion, string traceId);

    [LoggerMessage(2002, LogLevel.Debug, "Allowed {Reason} for app {AppId}, home tenant {HomeTenantId}, settings {SettingsSource}, user {User}, policy version {PolicyVersion}, trace {TraceId}.")]
    public static partial void RequestAllowed(ILogger logger, string reason, Guid appId, Guid? homeTenantId, string settingsSource, string? user, long policyVersion, string traceId);
}
